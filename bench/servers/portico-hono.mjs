// portico serving the Hono app: serve({ fetch: app.fetch }).
import { KEEPALIVE_MS, listening, loadPortico } from "./common.mjs";
import { makeApp } from "./app.mjs";

const { serve } = await loadPortico();
const app = makeApp();
serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: app.fetch,
  timeouts: { keepAlive: KEEPALIVE_MS },
  onListen: (addr) => listening(addr.port),
});
