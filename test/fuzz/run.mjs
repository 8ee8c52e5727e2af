#!/usr/bin/env node
// npm run fuzz [-- --seed N] [--time SECONDS | --iterations N] [--max-findings N]
// (or FUZZ_SEED, FUZZ_TIME, FUZZ_ITERATIONS; FUZZ_DISALLOW=id,id drops classes
// from the allow-list, to see whether they still occur). Default: 60 s with
// a seed from the clock, printed. Runs the differential fuzzer
// against the built parser (dist/), prints each finding with a minimal
// reproduction, and exits 1 when there is any.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { RequestParser } from "../../dist/src/http/parser.js";
import { BIG, TRICKY } from "./corpus.mjs";
import { allowList } from "./judge.mjs";
import { describeFinding, fuzz } from "./fuzz.mjs";
import { SEEDS } from "./seeds.mjs";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: process.env.FUZZ_SEED },
    time: { type: "string", default: process.env.FUZZ_TIME },
    iterations: { type: "string", default: process.env.FUZZ_ITERATIONS },
    "max-findings": { type: "string", default: "20" },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : (Date.now() & 0x7fffffff);
const iterations = values.iterations !== undefined ? Number(values.iterations) : undefined;
const timeMs = values.time !== undefined ? Number(values.time) * 1000 : iterations === undefined ? 60_000 : undefined;
const allowed = allowList(readFileSync(new URL("./DIVERGENCES.md", import.meta.url), "utf8"));
if (process.env.FUZZ_DISALLOW) for (const id of process.env.FUZZ_DISALLOW.split(",")) allowed.delete(id);

console.log(`fuzz: seed ${seed}, ${iterations !== undefined ? `${iterations} inputs` : `${timeMs / 1000} s`}`);
const started = Date.now();
const report = fuzz({
  RequestParser,
  seed,
  seeds: [...SEEDS, ...TRICKY.map((c) => c.input), ...BIG.map((c) => c.input.slice(0, 4096))],
  allowed,
  iterations,
  timeMs,
  maxFindings: Number(values["max-findings"]),
});
const secs = (Date.now() - started) / 1000;
console.log(`${report.runs} inputs in ${secs.toFixed(1)} s (${Math.round(report.runs / secs)}/s)`);
console.log("accepted divergences by class:", JSON.stringify(report.counts));
for (const f of report.findings) console.log("\n" + describeFinding(f));
console.log(`\n${report.findings.length} finding(s); reproduce with --seed ${seed}`);
process.exitCode = report.findings.length > 0 ? 1 : 0;
