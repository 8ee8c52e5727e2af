/**
 * The replay log: the inputs a servlet run consumed, in order. A
 * continuation is a log; resuming an old continuation re-runs the servlet
 * and answers each step from the log. Entries are plain JSON so that a log
 * can be counted in bytes and carried in a URL (stateless mode).
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";

/** A request as the servlet saw it: method, path (below the servlet), query, headers, body. */
export interface RequestEntry {
  t: "req";
  /** Method. */
  m: string;
  /** Path below the servlet's base, for the request that started the run; "" for resumptions. */
  p: string;
  /** Query string with its "?", or "". */
  q: string;
  /** Header fields kept. */
  h: [string, string][];
  /** Body, base64, when there was one. */
  b?: string;
  /** For `sendSuspendDispatch`: which embedded handler was chosen. */
  n?: number;
}

/** The value a `web.record(fn)` call produced. */
export interface RecordEntry {
  t: "rec";
  /** The recorded value (JSON). */
  v: unknown;
}

/** One step of a log. */
export type Entry = RequestEntry | RecordEntry;

/** Which request headers a log keeps: all of them (stateful), or only those a replay needs to parse a body. */
export type HeaderPolicy = "all" | "minimal";

const MINIMAL = new Set(["content-type"]);

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Reads a request into a log entry. The body is read whole (these are form
 * submissions) up to `maxBytes`; beyond it, 413.
 */
export async function entryOf(
  request: Request,
  path: string,
  headers: HeaderPolicy,
  maxBytes: number,
  dispatch?: number,
): Promise<RequestEntry> {
  const url = request.url;
  const qi = url.indexOf("?");
  const entry: RequestEntry = { t: "req", m: request.method, p: path, q: qi < 0 ? "" : url.slice(qi), h: [] };
  for (const [k, v] of request.headers) if (headers === "all" || MINIMAL.has(k)) entry.h.push([k, v]);
  if (request.body !== null) {
    const reader = request.body.getReader();
    const parts: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
      if (n > maxBytes) {
        void reader.cancel().catch(() => {});
        throw new HttpError("BODY_TOO_LARGE", `servlet input larger than ${maxBytes} bytes`);
      }
      parts.push(value);
    }
    if (n > 0) {
      const all = new Uint8Array(n);
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.byteLength;
      }
      entry.b = toBase64(all);
    }
  }
  if (dispatch !== undefined) entry.n = dispatch;
  return entry;
}

/** Rebuilds the Request a log entry describes, under `origin + base`. */
export function requestOf(entry: RequestEntry, origin: string, base: string): Request {
  const hasBody = entry.b !== undefined && entry.m !== "GET" && entry.m !== "HEAD";
  return new Request(origin + base + (entry.p || "/k") + entry.q, {
    method: entry.m,
    headers: entry.h,
    body: hasBody ? fromBase64(entry.b!) : null,
  });
}

/** Bytes a log entry is counted as (its JSON size). */
export function entrySize(entry: Entry): number {
  return JSON.stringify(entry).length;
}
