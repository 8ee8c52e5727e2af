// The core's own cost per request, without sockets: parsing, the request
// bridge, the handler call and the response writing, measured through a fake
// adapter whose connections answer synchronously. What a runtime's socket
// I/O adds on top is what bench/run.mjs measures.
//
//   node bench/core.mjs                      (dist/: npm run build first)
//   node_modules/.bin/deno run -A bench/core.mjs
//   node_modules/.bin/bun bench/core.mjs
//
// Options: --requests <n> (default 2,000,000), --pipeline <n> requests per
// chunk (default 1, as wrk sends them; 16 for the pipeline scenario),
// --hono: the benchmark's Hono app (bench/servers/app.mjs) as the handler
// rather than a plain one, which tells what Hono itself costs per request;
// --forwarded: requests as nginx passes them on (X-Forwarded-For, -Proto,
// -Host) to a server with `trustProxy: true`, which tells what believing
// them costs (compare with --forwarded-plain: the same requests, no option).
import process from "node:process";
import { fakeAdapter } from "./lib/fake-adapter.mjs";
import { loadPortico } from "./servers/common.mjs";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const requests = option("requests", 2_000_000);
const depth = option("pipeline", 1);

const hono = process.argv.includes("--hono");
const { serve } = await loadPortico();
let answered = 0;
let awaited = 0;
let wake = null;
const fake = fakeAdapter(() => {
  answered++;
  if (wake !== null && answered >= awaited) {
    const w = wake;
    wake = null;
    w();
  }
});
const fetch = hono ? (await import("./servers/app.mjs")).makeApp().fetch : () => new Response("Hello, World!");
const forwarded = process.argv.includes("--forwarded");
const withFields = forwarded || process.argv.includes("--forwarded-plain");
const server = serve({ adapter: fake.adapter, port: 1, onListen() {}, fetch, trustProxy: forwarded || undefined });
const handler = await fake.connect();

// The request wrk sends for the hello scenario.
const one = withFields
  ? "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n" +
    "X-Forwarded-Host: shop.example\r\n\r\n"
  : "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";
const chunk = new TextEncoder().encode(one.repeat(depth));

// Answers that come later (an async handler, an older core) are awaited,
// which adds a promise turn per chunk to the figure.
async function run(n) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i += depth) {
    const want = answered + depth;
    handler.onData(chunk);
    if (answered < want) {
      awaited = want;
      await new Promise((r) => (wake = r));
    }
  }
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
}
await run(Math.min(200_000, requests)); // warm-up
const [ms, cpuMs] = await run(requests);
const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
console.log(
  `${runtime}: ${(ms * 1000 / requests).toFixed(2)} µs per request, ${(cpuMs * 1000 / requests).toFixed(2)} µs CPU ` +
    `(${requests.toLocaleString("en-US")} requests, ${depth} per chunk, one core${hono ? ", Hono" : ""})`,
);
await server.group.shutdown(); // the fake connection never closes: a graceful shutdown would wait for timeouts.shutdown
process.exit(0);
