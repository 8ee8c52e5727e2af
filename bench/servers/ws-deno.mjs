// Anchor: WebSocket echo with Deno.serve and Deno.upgradeWebSocket.
import { listening } from "./common.mjs";

Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => listening(port) }, (req) => {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});
