// Anchor: Bun.serve with the plain hello handler.
import { fetchHandler, KEEPALIVE_MS, listening } from "./common.mjs";

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  idleTimeout: Math.min(255, KEEPALIVE_MS / 1000), // Bun's maximum is 255 s
  fetch: fetchHandler,
});
listening(server.port);
