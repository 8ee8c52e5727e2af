// Anchor: Bun.serve with the Hono app.
import { KEEPALIVE_MS, listening } from "./common.mjs";
import { makeApp } from "./app.mjs";

const app = makeApp();
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  idleTimeout: Math.min(255, KEEPALIVE_MS / 1000),
  fetch: app.fetch,
});
listening(server.port);
