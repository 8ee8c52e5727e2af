// Anchor: the Hono app on @hono/node-server (skipped by the harness when the
// package is not installed).
import { serve } from "@hono/node-server";
import { KEEPALIVE_MS, listening } from "./common.mjs";
import { makeApp } from "./app.mjs";

const app = makeApp();
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => listening(info.port));
server.keepAliveTimeout = KEEPALIVE_MS;
