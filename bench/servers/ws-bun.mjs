// Anchor: WebSocket echo with Bun.serve's websocket handler.
import { listening } from "./common.mjs";

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req, srv) {
    if (srv.upgrade(req)) return undefined;
    return new Response("not a websocket", { status: 400 });
  },
  websocket: {
    message(ws, message) {
      ws.send(message);
    },
  },
});
listening(server.port);
