// portico's own WebSocket cost per echoed message, without sockets: the
// upgraded connection's frame reader, the message event, send() and the
// frame writer, through a fake adapter whose connection takes every write at
// once. What a runtime's socket I/O adds is what `npm run bench` (ws64,
// ws16k) measures.
//
//   node bench/ws-core.mjs                     (dist/: npm run build first)
//   node_modules/.bin/deno run -A bench/ws-core.mjs
//   node_modules/.bin/bun bench/ws-core.mjs
//
// Prints CPU µs (utime + stime) per echoed message for 64-byte text and 16 KiB binary.
import process from "node:process";
import { fakeAdapter } from "./lib/fake-adapter.mjs";
import { loadPortico } from "./servers/common.mjs";

const { serve, upgradeWebSocket } = await loadPortico();
let writes = 0;
const fake = fakeAdapter(() => writes++);
const server = serve({
  adapter: fake.adapter,
  port: 1,
  onListen() {},
  fetch(req) {
    const { socket, response } = upgradeWebSocket(req, { idleTimeout: 0 });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  },
});
await server.ready?.();
const handler = await fake.connect();
handler.onData(new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
));
await new Promise((r) => setTimeout(r, 50));
if (writes === 0) throw new Error("no 101");

function frame(opcode, size) {
  const head = size < 126 ? 2 : 4;
  const f = new Uint8Array(head + 4 + size);
  f[0] = 0x80 | opcode;
  if (size < 126) f[1] = 0x80 | size;
  else {
    f[1] = 0x80 | 126;
    f[2] = size >> 8;
    f[3] = size & 255;
  }
  f.set([1, 2, 3, 4], head);
  for (let i = 0; i < size; i++) f[head + 4 + i] = 0x61 ^ [1, 2, 3, 4][i & 3];
  return f;
}

for (const [label, opcode, size, n] of [["64-byte text", 1, 64, 500_000], ["16 KiB binary", 2, 16384, 50_000]]) {
  const f = frame(opcode, size);
  for (let i = 0; i < n / 10; i++) handler.onData(f);
  const before = writes;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) handler.onData(f);
  const c = process.cpuUsage(c0);
  if (writes - before !== n) throw new Error(`expected ${n} echoes, got ${writes - before}`);
  console.log(`${label.padEnd(14)} ${((c.user + c.system) / n).toFixed(2)} µs CPU per echoed message`);
}
await server.group.shutdown();
process.exit(0);
