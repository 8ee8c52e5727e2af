/**
 * `portico/redis`: continuations kept in Redis or Valkey, shared by every
 * process and machine that uses the same store. A separate entry point, so
 * that applications that do not use it never load a Redis client.
 *
 * @example
 * ```ts
 * import { Router, servlet } from "portico";
 * import { redisManager } from "portico/redis";
 * const router = new Router();
 * router.mount("/app", servlet(() => new Response("hi"), { manager: redisManager({ url: "redis://127.0.0.1:6379" }) }));
 * ```
 *
 * @module
 */
export { redisManager } from "./manager.ts";
export type { RedisManagerOptions } from "./manager.ts";
