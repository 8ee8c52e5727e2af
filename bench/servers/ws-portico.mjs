// WebSocket echo with portico's upgradeWebSocket (the same code on node, deno and bun).
import { listening, loadPortico } from "./common.mjs";

const { serve, upgradeWebSocket } = await loadPortico();
serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: ({ port }) => listening(port),
  fetch(req) {
    const { socket, response } = upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  },
});
