// Summarises a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof`,
// `deno run --cpu-prof` or `bun --cpu-prof`): where the busy time went, by
// kind (portico's code, the runtime's JavaScript, native calls such as the
// socket write, GC), then the functions with the most self time.
//
//   node bench/lib/profile-summary.mjs <file.cpuprofile> [top=30]
//
// "(idle)" is time outside JavaScript: waiting in the event loop, and on
// Node and Deno also the reads the event loop does natively; it is left out
// of the shares.
import fs from "node:fs";
import process from "node:process";

const file = process.argv[2];
const top = Number(process.argv[3] ?? 30);
if (!file) {
  console.error("usage: node bench/lib/profile-summary.mjs <file.cpuprofile> [top]");
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

function kindOf(frame) {
  const { url, functionName } = frame;
  if (/\/(src|adapters|bench|examples|dist)\//.test(url)) return "portico and the benchmark handler";
  if (url.startsWith("node:") || url.startsWith("ext:")) return "the runtime's JavaScript";
  if (functionName === "(idle)") return "(idle)";
  if (functionName.startsWith("(")) return functionName; // (garbage collector), (program)
  return "native: " + (functionName || "(anonymous)");
}

const byKind = new Map();
const byFunction = new Map();
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const frame = nodes.get(profile.samples[i]).callFrame;
  const dt = profile.timeDeltas[i] ?? 0;
  const kind = kindOf(frame);
  byKind.set(kind, (byKind.get(kind) ?? 0) + dt);
  if (kind === "(idle)") continue;
  busy += dt;
  const where = frame.url ? ` ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}` : "";
  const key = (frame.functionName || "(anonymous)") + where;
  byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
}
const ms = (us) => (us / 1000).toFixed(0).padStart(7) + " ms";
const share = (us) => (100 * us / busy).toFixed(1).padStart(5) + "%";
console.log(`busy ${ms(busy)}, idle ${ms(byKind.get("(idle)") ?? 0)}\n`);
const kinds = [...byKind].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]);
// Native calls below 1% are folded together.
let otherNative = 0;
for (const [kind, us] of kinds) {
  if (kind.startsWith("native: ") && us < busy / 100) otherNative += us;
  else console.log(`${share(us)} ${ms(us)}  ${kind}`);
}
if (otherNative > 0) console.log(`${share(otherNative)} ${ms(otherNative)}  native: the rest`);
console.log("\nself time, by function:");
for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${share(us)}  ${key}`);
}
