// Anchor: node:http, written the way a node:http user would.
import http from "node:http";
import { BIG, HELLO, KEEPALIVE_MS, listening } from "./common.mjs";

const big = Buffer.from(BIG);
const server = http.createServer((req, res) => {
  const url = req.url;
  if (url === "/") {
    res.writeHead(200, { "content-type": "text/plain;charset=UTF-8", "content-length": HELLO.length });
    res.end(HELLO);
  } else if (url === "/64k") {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": big.length });
    res.end(big);
  } else if (url === "/echo" && req.method === "POST") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      res.end(body);
    });
  } else if (url.startsWith("/users/")) {
    const id = url.slice(7);
    const body = JSON.stringify({ id, name: `user ${id}` });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  } else {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Not Found");
  }
});
server.keepAliveTimeout = KEEPALIVE_MS;
server.listen(0, "127.0.0.1", () => listening(server.address().port));
