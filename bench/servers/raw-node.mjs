// Ceiling: node:net answering every request head ("\r\n\r\n") with a fixed
// response, no HTTP parsing. BENCH_RAW_BODY picks the response (common.mjs).
import net from "node:net";
import { headCounter, listening, rawResponse } from "./common.mjs";

const response = rawResponse();
const server = net.createServer({ noDelay: true }, (socket) => {
  const count = headCounter();
  socket.on("data", (chunk) => {
    const n = count(chunk);
    if (n > 0) socket.write(response(n));
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => listening(server.address().port));
