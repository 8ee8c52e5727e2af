#!/usr/bin/env node
// A/B of server CPU per request between two checkouts of portico, for work
// on the hot path (issue 17), where `npm run bench` is too coarse: the full
// run compares portico with other servers, this one compares portico with
// itself, before and after a change, on one runtime, in many short
// interleaved rounds on the same long-lived processes.
//
//   git worktree add /tmp/base main
//   ln -s "$PWD/node_modules" /tmp/base/node_modules
//   (cd /tmp/base && npm run build)
//   npm run build && node bench/ab.mjs --base /tmp/base --runtime deno
//
// Each target (base, work, and with --raw the raw-socket loop) is started
// once, pinned to CPU 1, warmed up, then loaded in turn by `wrk -t1` pinned
// to CPU 0: round 1 A B R, round 2 A B R, … Server CPU per request is the
// utime + stime of the server process over one wrk run divided by the
// requests it served. The report is the median per target and the median of
// the per-round ratios work ÷ base (and ÷ raw): rounds drift together when
// the machine does, so a ratio within a round is steadier than either figure.
//
// Why not a timed test: CPU per request moves ±10–20% from round to round on
// a shared 2-core machine, so a change of 3% needs 10+ rounds to show.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);

const { values: argv } = parseArgs({
  options: {
    base: { type: "string" },
    runtime: { type: "string", default: "node" },
    rounds: { type: "string", default: "10" },
    duration: { type: "string", default: "2" },
    connections: { type: "string", default: "64" },
    scenario: { type: "string", default: "hello" },
    server: { type: "string", default: "portico-hello" },
    raw: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (argv.help || !argv.base) {
  console.log(`usage: node bench/ab.mjs --base <checkout> [options]

  --base <dir>        the checkout to compare against (built: dist/ for node)
  --runtime <r>       node, deno or bun (default node)
  --rounds <n>        interleaved rounds (default 10)
  --duration <s>      seconds per wrk run (default 2)
  --connections <n>   wrk connections (default 64)
  --scenario <s>      hello, pipeline, echo, big, json or browser (bench/lua/<s>.lua), or
                      ws64 / ws16k (WebSocket echo, 50 clients; ws-portico.mjs)
  --server <name>     bench/servers/<name>.mjs (default portico-hello; portico-hono)
  --raw               also the raw-socket loop, for the ratio to it`);
  process.exit(argv.help ? 0 : 2);
}

const runtime = argv.runtime;
const rounds = Number(argv.rounds);
const seconds = Number(argv.duration);
const SCENARIO_PATH = { hello: "/", pipeline: "/", echo: "/echo", big: "/64k", json: "/users/42", browser: "/" };
const RAW_BODY = { hello: "hello", pipeline: "hello", echo: "echo", big: "64k", json: "json", browser: "hello" };
// WebSocket echo: message size and kind, as bench/run.mjs's ws64 and ws16k.
const WS = { ws64: [64, "text"], ws16k: [16 * 1024, "binary"] };
const ws = WS[argv.scenario];
if (!(argv.scenario in SCENARIO_PATH) && !ws) throw new Error(`unknown scenario ${argv.scenario}`);
if (ws && argv.raw) throw new Error("--raw is for the HTTP scenarios");
if (ws) argv.server = "ws-portico";

const bin = (name) => {
  const local = path.join(ROOT, "node_modules", ".bin", name);
  return fs.existsSync(local) ? local : name;
};
const command = (file) =>
  runtime === "node"
    ? ["node", file]
    : runtime === "deno"
    ? [bin("deno"), "run", "-A", file]
    : [bin("bun"), "run", file];
const entryOf = (dir) => path.resolve(dir, runtime === "node" ? "dist/mod.js" : "src/mod.ts");

const targets = [
  { name: "base", file: `${argv.server}.mjs`, env: { PORTICO_ENTRY: entryOf(argv.base) } },
  { name: "work", file: `${argv.server}.mjs`, env: { PORTICO_ENTRY: entryOf(ROOT) } },
];
if (argv.raw) targets.push({ name: "raw", file: `raw-${runtime}.mjs`, env: { BENCH_RAW_BODY: RAW_BODY[argv.scenario] } });
for (const t of targets.slice(0, 2)) {
  if (!fs.existsSync(t.env.PORTICO_ENTRY)) throw new Error(`${t.env.PORTICO_ENTRY} is missing (npm run build?)`);
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
function cpuTicks(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}

function start(t) {
  const argvList = ["taskset", "-c", "1", "nice", "-n", "-10", ...command(path.join(BENCH, "servers", t.file))];
  const child = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...argvList], {
    env: { ...process.env, ...t.env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/LISTENING (\d+)/);
      if (m) resolve({ ...t, child, pid: child.pid, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`${t.name} exited (${code}) before listening`)));
  });
}

// One load run: requests (or WebSocket messages) answered, and their rate.
async function load(port, secs) {
  if (ws) {
    const j = await loadGenerator([process.execPath, path.join(BENCH, "lib", "ws-client.mjs"), String(port), "50",
      String(ws[0]), ws[1], "0", String(secs)], "WSJSON ");
    return { requests: j.messages, rps: j.messages / (j.duration_us / 1e6), errors: j.errors };
  }
  const j = await loadGenerator([
    "wrk", "-t1", `-c${argv.connections}`, `-d${secs}s`,
    "-s", path.join(BENCH, "lua", `${argv.scenario}.lua`), `http://127.0.0.1:${port}${SCENARIO_PATH[argv.scenario]}`,
  ], "WRKJSON ");
  const errors = j.connect + j.read + j.write + j.timeout + j.status;
  return { requests: j.requests, rps: j.requests / (j.duration_us / 1e6), errors };
}

// Runs a load generator pinned to CPU 0 and returns the JSON of its
// `<marker>{…}` result line.
function loadGenerator(command, marker) {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", ["-c", "0", "nice", "-n", "-10", ...command], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => out += d);
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith(marker));
      if (!line) return reject(new Error(`${command[0]} failed (${code}): ${out.slice(0, 300)}`));
      resolve(JSON.parse(line.slice(marker.length)));
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const servers = [];
try {
  for (const t of targets) servers.push(await start(t));
  for (const s of servers) await load(s.port, 1); // warm-up: JIT, pools, heap
  const per = Object.fromEntries(servers.map((s) => [s.name, { cpu: [], rps: [] }]));
  const ratios = { base: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    const row = {};
    // Alternate the order between rounds so neither target always follows the other.
    const order = r % 2 ? [...servers].reverse() : servers;
    for (const s of order) {
      const before = cpuTicks(s.pid);
      const res = await load(s.port, seconds);
      const us = ((cpuTicks(s.pid) - before) * 1e6) / CLK_TCK / res.requests;
      if (res.errors) console.error(`${s.name}: ${res.errors} wrk errors`);
      per[s.name].cpu.push(us);
      per[s.name].rps.push(res.rps);
      row[s.name] = us;
    }
    ratios.base.push(row.work / row.base);
    if (row.raw) ratios.raw.push(row.work / row.raw);
    console.log(
      `round ${r + 1}: ` + servers.map((s) => `${s.name} ${row[s.name].toFixed(2)}`).join("  ") +
        `  work/base ${(row.work / row.base).toFixed(3)}`,
    );
  }
  console.log(`\n${runtime} ${argv.server} ${argv.scenario}, ${rounds} rounds × ${seconds} s, CPU µs per ${ws ? "message" : "request"} (median):`);
  for (const s of servers) {
    console.log(`  ${s.name.padEnd(5)} ${median(per[s.name].cpu).toFixed(2)} µs  ${Math.round(median(per[s.name].rps))} ${ws ? "msg" : "req"}/s`);
  }
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  console.log(
    `  work ÷ base ${median(ratios.base).toFixed(3)} (rounds' quartiles ${q(ratios.base, 0.25).toFixed(3)}–${
      q(ratios.base, 0.75).toFixed(3)
    })`,
  );
  if (ratios.raw.length) console.log(`  work ÷ raw  ${median(ratios.raw).toFixed(3)}`);
} finally {
  for (const s of servers) s.child.kill("SIGKILL");
}
