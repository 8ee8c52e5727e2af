// portico serving the plain hello handler (node: dist/mod.js; deno, bun: src/mod.ts).
import { fetchHandler, KEEPALIVE_MS, listening, loadPortico } from "./common.mjs";

const { serve } = await loadPortico();
serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: fetchHandler,
  timeouts: { keepAlive: KEEPALIVE_MS },
  onListen: (addr) => listening(addr.port),
});
