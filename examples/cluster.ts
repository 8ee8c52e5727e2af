/**
 * The tutorial app on all cores: a supervisor runs one worker per CPU on one
 * port, restarts the ones that die, and stops them gracefully on SIGTERM or
 * Ctrl-C. Each worker gets the same command line.
 *   node (after npm run build): node dist/examples/cluster.js [--port n] [--host name]
 *   deno run -A examples/cluster.ts [--port n] [--host name]
 *   bun examples/cluster.ts [--port n] [--host name]
 * --port defaults to env PORT, else 8000; --host to 127.0.0.1.
 *
 * Stateful servlets (sum2, books) keep their continuations in the worker
 * that made them, and the kernel (or node:cluster) spreads requests over
 * workers, so a k-URL can land on a worker that does not know it. With
 * REDIS_URL set (redis://host:port), every worker keeps them in that
 * Redis/Valkey store instead, and any worker — on any machine sharing the
 * store — resumes any k-URL.
 */
import { type Handler, Router, serve, servlet, supervise, workerId } from "portico";
import { books, sum2, tutorial } from "./tutorial_app.ts";
import { listenArgs } from "./tutorial_args.ts";

const { port, hostname } = listenArgs("cluster");

/** The tutorial, with sum2 and books in Redis when REDIS_URL is set. */
async function app(): Promise<Handler> {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const url = env.REDIS_URL;
  if (!url) return tutorial().fetch;
  // Loaded only here, so that the example runs without the redis package.
  const { redisManager } = await import("portico/redis");
  const router = new Router();
  router.mount("/sum2", servlet(sum2, { manager: redisManager({ url, ttl: 30 * 60_000 }) }));
  router.mount("/books", servlet(books, { manager: redisManager({ url, ttl: 30 * 60_000 }) }));
  const rest = tutorial().fetch;
  router.all("/*", (request, ctx) => rest(request, ctx));
  return router.fetch;
}

if (workerId() === null) {
  supervise();
} else {
  serve({ port, hostname, reusePort: true, fetch: await app() });
}
