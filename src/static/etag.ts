/**
 * Validators (ETag, Last-Modified) of a file and the conditional-request
 * rules of RFC 9110 §13 that use them.
 *
 * The ETag is derived from size and modification time, not from the
 * content: cheap, and it changes whenever either does. Because two
 * different contents could in principle share both, the default tag is
 * weak; `"strong"` is for trees whose files are replaced, never edited in
 * place within the same millisecond.
 *
 * @module
 */

/** How ETags are made: `true` or `"weak"` (default), `"strong"`, or `false` for none. */
export type EtagMode = boolean | "weak" | "strong";

/** The validators of one file version. */
export interface Validators {
  /** The ETag field value, or null when ETags are off. */
  readonly etag: string | null;
  /** The Last-Modified field value (an IMF-fixdate). */
  readonly lastModified: string;
  /** The modification time in whole seconds since the epoch, as Last-Modified states it. */
  readonly modifiedSeconds: number;
}

/**
 * The validators of a file of `size` bytes last modified at `mtimeMs`.
 *
 * @example
 * ```ts
 * import { validators } from "./etag.ts";
 * const v = validators(1234, Date.UTC(2024, 0, 1), true);
 * v.etag; // 'W/"4d2-18cc251f400"'
 * v.lastModified; // "Mon, 01 Jan 2024 00:00:00 GMT"
 * ```
 */
export function validators(size: number, mtimeMs: number, mode: EtagMode): Validators {
  const ms = Math.floor(mtimeMs);
  const opaque = `"${size.toString(16)}-${ms.toString(16)}"`;
  const etag = mode === false ? null : mode === "strong" ? opaque : `W/${opaque}`;
  const modifiedSeconds = Math.floor(ms / 1000);
  return { etag, lastModified: new Date(modifiedSeconds * 1000).toUTCString(), modifiedSeconds };
}

/** The outcome of evaluating preconditions: go on, 304, or 412. */
export type Precondition = "proceed" | "not-modified" | "failed";

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and
 * If-Modified-Since in the order RFC 9110 §13.2.2 prescribes.
 *
 * @example
 * ```ts
 * import { evaluatePreconditions, validators } from "./etag.ts";
 * const v = validators(10, 0, true);
 * evaluatePreconditions(new Headers({ "if-none-match": v.etag! }), "GET", v); // "not-modified"
 * ```
 */
export function evaluatePreconditions(headers: Headers, method: string, v: Validators): Precondition {
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    if (!matches(ifMatch, v.etag, true)) return "failed";
  } else {
    const since = parseHttpDate(headers.get("if-unmodified-since"));
    if (since !== null && v.modifiedSeconds * 1000 > since) return "failed";
  }
  const safe = method === "GET" || method === "HEAD";
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    if (matches(ifNoneMatch, v.etag, false)) return safe ? "not-modified" : "failed";
  } else if (safe) {
    const since = parseHttpDate(headers.get("if-modified-since"));
    if (since !== null && v.modifiedSeconds * 1000 <= since) return "not-modified";
  }
  return "proceed";
}

/**
 * Whether an If-Range value still names this version, so that the Range
 * may be honoured: a strong ETag equal to ours, or a date equal to our
 * Last-Modified (RFC 9110 §13.1.5). A weak tag never matches.
 *
 * @example
 * ```ts
 * import { ifRangeMatches, validators } from "./etag.ts";
 * const v = validators(10, 0, "strong");
 * ifRangeMatches(v.etag!, v); // true
 * ifRangeMatches(v.lastModified, v); // true
 * ```
 */
export function ifRangeMatches(value: string, v: Validators): boolean {
  const trimmed = value.trim();
  if (trimmed.startsWith("W/")) return false;
  if (trimmed.startsWith('"')) return v.etag !== null && !v.etag.startsWith("W/") && trimmed === v.etag;
  const date = parseHttpDate(trimmed);
  return date !== null && date === v.modifiedSeconds * 1000;
}

/**
 * Whether a list of entity tags (an If-Match or If-None-Match value)
 * contains `etag`: weak comparison for If-None-Match, strong for If-Match.
 * `*` matches any current version, even without an ETag.
 */
function matches(list: string, etag: string | null, strong: boolean): boolean {
  if (list.trim() === "*") return true;
  if (etag === null) return false;
  if (strong && etag.startsWith("W/")) return false;
  const ours = etag.startsWith("W/") ? etag.slice(2) : etag;
  // An entity-tag may contain commas, so tags are found, not split.
  for (const m of list.matchAll(/(W\/)?("[^"]*")/g)) {
    if (m[2] !== ours) continue;
    if (!strong || m[1] === undefined) return true;
  }
  return false;
}

/** An HTTP-date as epoch milliseconds, or null when absent or invalid. */
function parseHttpDate(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
