// The differential fuzzer's loop: mutate, run portico (whole and split) and
// llhttp, judge, and shrink every new kind of finding to a small reproduction.

import { llhttpOutcome } from "./llhttp.mjs";
import { porticoOutcome } from "./outcome.mjs";
import { classify, compare, sameOutcome } from "./judge.mjs";
import { mutate, Rng } from "./mutate.mjs";

/** Longest mutated input; longer ones are cut (the limits are not under test here). */
const MAX_INPUT = 4096;
/** How many mutants that parse into at least one message are kept as new seeds. */
const POOL = 512;

const enc = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const latin1 = (bytes) => {
  let s = "";
  for (let k = 0; k < bytes.length; k++) s += String.fromCharCode(bytes[k]);
  return s;
};

/**
 * Judges one input. Returns null when portico and llhttp agree, or when they
 * differ in an allowed class (counted in `counts`); else the finding.
 */
export function judge(RequestParser, input, cuts, allowed, counts) {
  const p = porticoOutcome(RequestParser, input);
  if (cuts.length > 0) {
    const s = porticoOutcome(RequestParser, input, cuts);
    if (!sameOutcome(p, s)) return { kind: "split", cuts, portico: p, split: s };
  }
  const l = llhttpOutcome(input);
  const d = compare(p, l);
  if (d === null) return null;
  const id = classify(input, p, l, d, {
    portico: (bytes) => porticoOutcome(RequestParser, bytes),
    llhttp: (bytes) => llhttpOutcome(bytes),
  });
  if (id !== null && allowed.has(id)) {
    if (counts) counts[id] = (counts[id] ?? 0) + 1;
    return null;
  }
  return { kind: d.kind, index: d.index, id, portico: p, llhttp: l };
}

const signature = (f) =>
  f.kind === "split"
    ? `split ${f.portico.end}:${f.portico.code ?? ""}`
    : `${f.kind} ${f.id ?? "unclassified"} ${f.portico.end}:${f.portico.code ?? ""} ${f.llhttp.end}:${f.llhttp.code ?? ""}`;

// Whether some single cut of `input` makes portico's outcome differ.
function splitCut(RequestParser, input) {
  const whole = porticoOutcome(RequestParser, input);
  for (let k = 1; k < input.length; k++) {
    if (!sameOutcome(whole, porticoOutcome(RequestParser, input, [k]))) return k;
  }
  return -1;
}

/**
 * Shrinks `input` while the finding keeps its signature: removes ever
 * smaller ranges (delta debugging), then single bytes.
 */
export function minimize(RequestParser, input, finding, allowed) {
  const want = signature(finding);
  const still = (c) => {
    if (finding.kind === "split") {
      const k = splitCut(RequestParser, c);
      return k >= 0 && signature(judge(RequestParser, c, [k], allowed) ?? { kind: "none", portico: {} }) === want;
    }
    const f = judge(RequestParser, c, [], allowed);
    return f !== null && signature(f) === want;
  };
  let best = input;
  for (let size = best.length >> 1; size >= 1; size = size >> 1) {
    let progress = true;
    while (progress) {
      progress = false;
      for (let at = 0; at + size <= best.length; at += size) {
        const c = new Uint8Array(best.length - size);
        c.set(best.subarray(0, at));
        c.set(best.subarray(at + size), at);
        if (still(c)) {
          best = c;
          progress = true;
          break;
        }
      }
    }
  }
  return best;
}

/**
 * @typedef {{
 *   RequestParser: any, seed: number, seeds: string[], allowed: Set<string>,
 *   iterations?: number, timeMs?: number, maxFindings?: number,
 * }} FuzzOptions
 * @typedef {{ kind: string, id: string | null, input: string, minimal: string, cuts?: number[], portico: unknown, llhttp?: unknown, split?: unknown }} Finding
 * @typedef {{ runs: number, counts: Record<string, number>, findings: Finding[] }} FuzzReport
 */

/**
 * Runs the fuzzer until `iterations` inputs or `timeMs` (whichever comes
 * first; at least one must be given). The same seed and iteration count
 * always run the same inputs.
 * @param {FuzzOptions} o
 * @returns {FuzzReport}
 */
export function fuzz(o) {
  const rng = new Rng(o.seed);
  const pool = o.seeds.map(enc);
  const kept = [];
  const counts = {};
  const findings = [];
  const seen = new Set();
  const deadline = o.timeMs === undefined ? Infinity : Date.now() + o.timeMs;
  const iterations = o.iterations ?? Infinity;
  const maxFindings = o.maxFindings ?? 20;
  let runs = 0;
  while (runs < iterations && findings.length < maxFindings && (runs & 63 || Date.now() < deadline)) {
    runs++;
    const from = rng.below(4) === 0 && kept.length > 0 ? kept : pool;
    let input = mutate(rng, rng.pick(from), rng.pick(pool));
    if (input.length > MAX_INPUT) input = input.subarray(0, MAX_INPUT);
    const cuts = [];
    if (input.length > 1) {
      for (let n = 1 + rng.below(3); n > 0; n--) cuts.push(1 + rng.below(input.length - 1));
      cuts.sort((a, b) => a - b);
    }
    const f = judge(o.RequestParser, input, cuts, o.allowed, counts);
    if (f === null) {
      if (kept.length < POOL && porticoOutcome(o.RequestParser, input).messages.length > 0) kept.push(input);
      else if (kept.length === POOL && rng.below(8) === 0) kept[rng.below(POOL)] = input;
      continue;
    }
    const sig = signature(f);
    if (seen.has(sig)) continue;
    seen.add(sig);
    const minimal = minimize(o.RequestParser, input, f, o.allowed);
    const again = f.kind === "split"
      ? judge(o.RequestParser, minimal, [splitCut(o.RequestParser, minimal)], o.allowed)
      : judge(o.RequestParser, minimal, [], o.allowed);
    findings.push({ ...(again ?? f), input: latin1(input), minimal: latin1(minimal) });
  }
  return { runs, counts, findings };
}

/** A finding as a few lines of text: what differed and the smallest input that shows it. */
export function describeFinding(f) {
  const lines = [`${f.kind}${f.id ? ` (class ${f.id} is not in the allow-list)` : ""}: ${JSON.stringify(f.minimal)}`];
  if (f.cuts) lines.push(`  cut at ${f.cuts.join(", ")}`);
  lines.push(`  portico: ${JSON.stringify(f.portico)}`);
  if (f.llhttp) lines.push(`  llhttp:  ${JSON.stringify(f.llhttp)}`);
  if (f.split) lines.push(`  split:   ${JSON.stringify(f.split)}`);
  return lines.join("\n");
}
