// WebSocket echo load for bench/run.mjs: `connections` clients over raw
// node:net sockets, each with one message in flight (send, wait for the
// echo, send again). Frames are built once (masked, as a client must); the
// echo is only delimited, never decoded, so the client stays cheap.
//
// usage: node ws-client.mjs <port> <connections> <size> <text|binary> <warmup s> <seconds>
// Prints "GO" when the measured window starts, then one line
// WSJSON {"messages":…,"duration_us":…,"errors":…,"p50":…,"p99":…}.

import net from "node:net";
import process from "node:process";

const [port, connections, size, kind, warmup, seconds] = process.argv.slice(2);
const N = Number(connections);
const SIZE = Number(size);

function frame() {
  const opcode = kind === "text" ? 1 : 2;
  const payload = Buffer.alloc(SIZE, 0x61); // "aaaa…": valid UTF-8 either way
  const head = SIZE < 126 ? 2 : SIZE < 65536 ? 4 : 10;
  const f = Buffer.alloc(head + 4 + SIZE);
  f[0] = 0x80 | opcode;
  if (SIZE < 126) f[1] = 0x80 | SIZE;
  else if (SIZE < 65536) {
    f[1] = 0x80 | 126;
    f.writeUInt16BE(SIZE, 2);
  } else {
    f[1] = 0x80 | 127;
    f.writeBigUInt64BE(BigInt(SIZE), 2);
  }
  const mask = [0x12, 0x34, 0x56, 0x78];
  for (let i = 0; i < 4; i++) f[head + i] = mask[i];
  for (let i = 0; i < SIZE; i++) f[head + 4 + i] = payload[i] ^ mask[i & 3];
  return f;
}
const FRAME = frame();

let counting = false;
let messages = 0;
let errors = 0;
const samples = [];

function open() {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), "127.0.0.1");
    s.setNoDelay(true);
    let head = true;
    let buf = Buffer.alloc(0);
    let remaining = -1; // bytes left of the frame being read; -1: reading a header
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      s.write(FRAME);
    };
    s.on("error", (e) => {
      errors++;
      reject(e);
    });
    s.on("close", () => {
      if (counting) errors++;
    });
    s.on("connect", () => {
      s.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    s.on("data", (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (head) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString().includes("101")) {
          reject(new Error(`no 101: ${buf.subarray(0, 80).toString()}`));
          return;
        }
        head = false;
        buf = buf.subarray(end + 4);
        resolve(s);
        send();
      }
      let p = 0;
      for (;;) {
        if (remaining < 0) {
          if (buf.length - p < 2) break;
          const len7 = buf[p + 1] & 0x7f;
          const h = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
          if (buf.length - p < h) break;
          remaining = len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(p + 2) : Number(buf.readBigUInt64BE(p + 2));
          p += h;
        }
        const take = Math.min(remaining, buf.length - p);
        p += take;
        remaining -= take;
        if (remaining > 0) break;
        remaining = -1;
        if (counting) {
          messages++;
          if ((messages & 15) === 0) samples.push(performance.now() - sentAt);
        }
        send();
      }
      buf = p === buf.length ? Buffer.alloc(0) : buf.subarray(p);
    });
  });
}

const sockets = [];
for (let i = 0; i < N; i++) sockets.push(await open());
await new Promise((r) => setTimeout(r, Number(warmup) * 1000));
counting = true;
console.log("GO");
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
counting = false;
const elapsed = performance.now() - t0;
samples.sort((a, b) => a - b);
const q = (p) => (samples.length ? Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] * 1000) : null);
console.log(`WSJSON ${JSON.stringify({ messages, duration_us: Math.round(elapsed * 1000), errors, p50: q(0.5), p99: q(0.99) })}`);
for (const s of sockets) s.destroy();
process.exit(0);
