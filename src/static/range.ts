/**
 * The Range request field (RFC 9110 §14.2), for one representation of a
 * known size.
 *
 * Only a single byte range is served as 206. Several ranges get the whole
 * representation (200), which RFC 9110 permits, and which spares a
 * multipart/byteranges body that few clients want; an invalid field is
 * ignored, as the RFC asks.
 *
 * @module
 */

/** What a Range field asks for. */
export type RangeRequest =
  | { readonly kind: "none" }
  | { readonly kind: "unsatisfiable" }
  | { readonly kind: "range"; readonly start: number; readonly end: number };

const SPEC = /^(\d*)-(\d*)$/;

/**
 * Parses `header` against a representation of `size` bytes: `none` (answer
 * 200 with everything), `unsatisfiable` (416), or one inclusive byte range
 * (206).
 *
 * @example
 * ```ts
 * import { parseRange } from "./range.ts";
 * parseRange("bytes=0-4", 10); // { kind: "range", start: 0, end: 4 }
 * parseRange("bytes=-3", 10); // { kind: "range", start: 7, end: 9 }
 * parseRange("bytes=10-", 10); // { kind: "unsatisfiable" }
 * parseRange("bytes=0-1,4-5", 10); // { kind: "none" }
 * ```
 */
export function parseRange(header: string | null, size: number): RangeRequest {
  if (header === null) return NONE;
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return NONE;
  const specs = header.slice(eq + 1).split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length === 0) return NONE;
  const ranges: Array<{ start: number; end: number } | null> = [];
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (m === null || (m[1] === "" && m[2] === "")) return NONE;
    if (m[1] === "") {
      const suffix = toNumber(m[2]);
      // An empty file has no byte to point at: serve it whole.
      if (size === 0 && suffix > 0) return NONE;
      ranges.push(suffix === 0 ? null : { start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = toNumber(m[1]);
    const last = m[2] === "" ? Infinity : toNumber(m[2]);
    if (last < start) return NONE;
    ranges.push(start >= size ? null : { start, end: Math.min(last, size - 1) });
  }
  const satisfiable = ranges.filter((r) => r !== null);
  if (satisfiable.length === 0) return UNSATISFIABLE;
  if (specs.length > 1) return NONE;
  return { kind: "range", ...satisfiable[0] };
}

const NONE: RangeRequest = { kind: "none" };
const UNSATISFIABLE: RangeRequest = { kind: "unsatisfiable" };

// Digit strings too long for exact arithmetic can only mean "beyond the end".
function toNumber(digits: string): number {
  return digits.length > 15 ? Infinity : Number(digits);
}
