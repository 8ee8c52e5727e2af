/**
 * The replay log: the inputs a servlet run consumed, in order. A
 * continuation is a log; resuming an old continuation re-runs the servlet
 * and answers each step from the log. Entries are plain JSON so that a log
 * can be counted in bytes and carried in a URL (stateless mode).
 *
 * @module
 */

import { readAll } from "../http/bytes.ts";
import { HttpError } from "../http/errors.ts";
import { fromBase64, toBase64 } from "./base64.ts";

/** A request as the servlet saw it: method, path (below the servlet), query, headers, body. */
export interface RequestEntry {
  /** The kind of entry: a request. */
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
  /** The kind of entry: a recorded value. */
  t: "rec";
  /** The recorded value (JSON). */
  v: unknown;
}

/** One step of a log. */
export type Entry = RequestEntry | RecordEntry;

/** Which request headers a log keeps: all of them (stateful), or only those a replay needs to parse a body. */
export type HeaderPolicy = "all" | "minimal";

const MINIMAL = new Set(["content-type"]);

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
    const body = await readAll(
      request.body,
      maxBytes,
      () => new HttpError("BODY_TOO_LARGE", `servlet input larger than ${maxBytes} bytes`),
    );
    if (body.byteLength > 0) entry.b = toBase64(body);
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
