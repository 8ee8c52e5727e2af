/**
 * `portico/continuations`: session continuations (`servlet`, after the Racket
 * web server's `send/suspend`), and what a continuation manager is made of,
 * for writing one: `servlet`, `lruManager` and `noneManager` are also on the
 * root entry; the manager interface, the stateless codec and their types are
 * here.
 *
 * @example
 * ```ts
 * import { html, Router, serve } from "portico";
 * import { lruManager, servlet, type Web } from "portico/continuations";
 *
 * async function ask(web: Web, label: string): Promise<number> {
 *   const req = await web.sendSuspend((k) => html`<form action="${k}">${label} <input name="n"></form>`);
 *   return Number(new URL(req.url).searchParams.get("n"));
 * }
 * const router = new Router();
 * const manager = lruManager({ maxCount: 10_000, ttl: 30 * 60_000 });
 * router.mount("/sum", servlet(async (web) => html`<p>${(await ask(web, "a")) + (await ask(web, "b"))}</p>`, { manager }));
 * serve({ fetch: router.fetch });
 * ```
 *
 * @module
 */
export { servlet } from "./servlet.ts";
export type { EmbeddedHandler, Page, Servlet, ServletOptions, Web } from "./servlet.ts";
export { ContinuationStoreError, Instance, lruManager, noneManager } from "./manager.ts";
export type { Continuation, ContinuationManager, LruOptions, Parked, Responder } from "./manager.ts";
export { StatelessCodec, TokenTooLongError } from "./stateless.ts";
export type { Decoded, StatelessOptions, TokenScope } from "./stateless.ts";
export type { Entry, HeaderPolicy, RecordEntry, RequestEntry } from "./log.ts";
