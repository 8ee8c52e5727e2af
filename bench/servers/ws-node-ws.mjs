// Anchor: WebSocket echo with the `ws` package on node:http.
import { WebSocketServer } from "ws";
import { listening } from "./common.mjs";

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on("listening", () => listening(wss.address().port));
