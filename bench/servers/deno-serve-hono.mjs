// Anchor: Deno.serve with the Hono app.
import { listening } from "./common.mjs";
import { makeApp } from "./app.mjs";

const app = makeApp();
Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => listening(port) }, app.fetch);
