// The idle keep-alive client of the `idle` scenario, run by bench/run.mjs as
// its own process (pinned to the load core), so that its sockets and memory
// are not the harness's.
//
//   node bench/lib/idle-client.mjs <port> <count> [parallel]
//
// It first makes a few hundred short connections (one GET / each, then
// close) to warm the server up and prints `WARM <ok> <failed>`. Then it
// obeys commands on stdin, one per line:
//   open   open <count> connections, each sends one GET / and reads the
//          answer, then stays open and idle; prints `OPEN <ok> <failed> <ms>`
//   alive  prints `ALIVE <n>`, how many of them are still open
//   close  closes everything and exits

import net from "node:net";
import readline from "node:readline";
import process from "node:process";

const port = Number(process.argv[2]);
const count = Number(process.argv[3] ?? 10_000);
const parallel = Number(process.argv[4] ?? 128);
const host = "127.0.0.1";
const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`, "latin1");
const open = new Set();

/** One connection: connect, one request, wait for its answer. Resolves with the socket or null. */
function connectOnce(keep) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    const socket = net.connect({ port, host, noDelay: true });
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on("connect", () => socket.write(request));
    socket.once("data", (chunk) => {
      socket.setTimeout(0);
      const ok = chunk.toString("latin1", 0, 12) === "HTTP/1.1 200";
      if (!ok || !keep) {
        socket.destroy();
        settle(null);
        return;
      }
      open.add(socket);
      socket.on("data", () => {}); // anything more is dropped
      settle(socket);
    });
    socket.on("error", () => settle(null));
    socket.on("close", () => {
      open.delete(socket);
      settle(null);
    });
  });
}

async function many(n, par, keep) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  async function worker() {
    while (next < n) {
      next++;
      if (await connectOnce(keep)) ok++;
      else if (keep) failed++;
      else ok++; // warm-up connections are closed on purpose
    }
  }
  await Promise.all(Array.from({ length: Math.min(par, n) }, worker));
  return { ok, failed };
}

const warm = await many(300, 32, false);
console.log(`WARM ${warm.ok} ${warm.failed}`);

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const cmd = line.trim();
  if (cmd === "open") {
    const t0 = Date.now();
    const r = await many(count, parallel, true);
    console.log(`OPEN ${r.ok} ${r.failed} ${Date.now() - t0}`);
  } else if (cmd === "alive") {
    console.log(`ALIVE ${open.size}`);
  } else if (cmd === "close") {
    for (const s of open) s.destroy();
    process.exit(0);
  }
});
rl.on("close", () => process.exit(0));
