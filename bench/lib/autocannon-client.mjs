// The fallback load generator, used by bench/run.mjs when wrk is absent:
// runs autocannon once with the options given as JSON and prints one
// `ACJSON {...}` line (latencies in microseconds, like the wrk scripts).
//
//   node bench/lib/autocannon-client.mjs '{"url":"http://127.0.0.1:8000/","connections":64,"duration":3}'

import process from "node:process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const autocannon = require("autocannon");
const options = JSON.parse(process.argv[2]);
const result = await autocannon({ ...options, renderProgressBar: false, renderResultsTable: false });
console.log("ACJSON " + JSON.stringify({
  requests: result.requests.total,
  duration_us: Math.round(result.duration * 1e6),
  bytes: result.throughput.total,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  p50: Math.round(result.latency.p50 * 1000),
  p99: Math.round(result.latency.p99 * 1000),
}));
