/**
 * Serialising a Fetch `Response` head for the wire: status line, fields,
 * framing (Content-Length or chunked) and the connection decision.
 *
 * @module
 */

import { clearTimeout, setTimeout } from "node:timers";
import { allocateShared } from "./bytes.ts";
import { writeLatin1 } from "./chars.ts";

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The standard reason phrase for `status`, or "" when there is none. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

let dateValue = "";
let dateExpires = 0;
// While a server has connections it holds the clock (holdDateClock): then a
// timer, set for the next second whenever the value is rebuilt, marks it
// stale, and until then a response reads no clock (Node's http module does
// the same). Unheld, each call compares Date.now() with the second's end.
let dateHolders = 0;
let dateFresh = false;
let dateTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * The `Date` field value, formatted at most once per second.
 *
 * @example
 * ```ts
 * import { httpDate } from "./response.ts";
 * httpDate(); // "Thu, 03 Dec 2026 08:00:00 GMT"
 * ```
 */
export function httpDate(): string {
  if (dateFresh) return dateValue;
  const now = Date.now();
  // A new second, or a clock set back (the value would stay until the
  // clock caught up again).
  if (now >= dateExpires || now < dateExpires - 1000) {
    dateValue = new Date(now).toUTCString();
    dateExpires = now - (now % 1000) + 1000;
  }
  if (dateHolders > 0) {
    // A timer that fires a little early finds the same second and is set again.
    dateFresh = true;
    dateTimer = setTimeout(staleDate, dateExpires - now);
    (dateTimer as { unref?: () => void }).unref?.();
  }
  return dateValue;
}

function staleDate(): void {
  dateFresh = false;
  dateTimer = null;
}

/**
 * Lets {@link httpDate} keep its value until a timer says the second is
 * over, rather than read the clock on every call, until the returned
 * function is called. A server holds it while it has connections; no timer
 * is left once every holder has let go (Deno's test sanitizers would see one).
 *
 * @example
 * ```ts
 * import { holdDateClock } from "./response.ts";
 * const release = holdDateClock();
 * // … serve requests …
 * release();
 * ```
 */
export function holdDateClock(): () => void {
  dateHolders++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--dateHolders === 0) {
      if (dateTimer !== null) clearTimeout(dateTimer);
      dateTimer = null;
      dateFresh = false;
    }
  };
}

/** Whether a response with this status and request method carries no body on the wire. */
export function isBodiless(status: number, method: string): boolean {
  return method === "HEAD" || status === 204 || status === 304 || status < 200;
}

/**
 * How the body that follows a response head is delimited. `"none"`: no
 * body (HEAD, 204, 304, 1xx); `announce` is the Content-Length a HEAD or 304
 * answer states for the body a GET would have had, or null.
 */
export type ResponseFraming =
  | { kind: "none"; announce: string | null }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

/**
 * The server's `Connection` field: `"close"` when the connection closes
 * after this response, `"keep-alive"` when an HTTP/1.0 connection stays
 * open (1.1 stays open by default: no field).
 */
export type ConnectionField = "close" | "keep-alive" | null;

/** The {@link ConnectionField} for a response that does or does not keep the connection, in HTTP/1.`versionMinor`. */
export function connectionField(keepAlive: boolean, versionMinor: number): ConnectionField {
  return !keepAlive ? "close" : versionMinor === 0 ? "keep-alive" : null;
}

/**
 * Builds the status line and field lines of a response.
 *
 * Framing fields the application set (`Content-Length`, `Transfer-Encoding`)
 * are replaced by what `framing` says the server sends; `Connection` is the
 * server's decision (`connection`); `Date` is added unless present;
 * `contentType` is added when given (Bun's hidden default of a string body).
 */
export function serializeHead(
  status: number,
  statusText: string,
  headers: Iterable<readonly [string, string]>,
  framing: ResponseFraming,
  connection: ConnectionField,
  contentType: string | null = null,
): string {
  let s = "HTTP/1.1 " + status + " " + (statusText || reasonPhrase(status)) + "\r\n";
  let hasDate = false;
  for (const [name, value] of headers) {
    switch (name) {
      case "content-length":
      case "transfer-encoding":
      case "connection":
      case "keep-alive":
        continue;
      case "date":
        hasDate = true;
    }
    s += name + ": " + value + "\r\n";
  }
  if (!hasDate) s += "date: " + httpDate() + "\r\n";
  if (contentType !== null) s += "content-type: " + contentType + "\r\n";
  switch (framing.kind) {
    case "length":
      s += "content-length: " + framing.length + "\r\n";
      break;
    case "chunked":
      s += "transfer-encoding: chunked\r\n";
      break;
    case "none":
      // HEAD and 304 may announce the length the GET would have had.
      if (framing.announce !== null && status !== 204 && status >= 200) {
        s += "content-length: " + framing.announce + "\r\n";
      }
  }
  if (connection !== null) s += "connection: " + connection + "\r\n";
  return s + "\r\n";
}

const encoder = new TextEncoder();

/** Encodes a head string (latin1) followed by `body` into one buffer, for one write. */
export function encodeHead(head: string, body?: Uint8Array): Uint8Array {
  const out = allocateShared(head.length + (body ? body.byteLength : 0));
  // Native UTF-8 encoding is latin1 for ASCII, which nearly every head is:
  // then every character read took one byte written.
  const r = encoder.encodeInto(head, out);
  if (r.read !== head.length || r.written !== head.length) writeLatin1(head, out, 0);
  if (body) out.set(body, head.length);
  return out;
}

/**
 * Encodes `text` as bytes for the wire when it is all ASCII (one byte per
 * character, so its length is known before encoding), else returns null.
 * Used for a head and a string body in one buffer.
 */
export function encodeAscii(text: string): Uint8Array | null {
  const out = allocateShared(text.length);
  return encoder.encodeInto(text, out).read === text.length ? out : null;
}

const CRLF_LAST = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]); // "0\r\n\r\n"

/** The last-chunk and empty trailer section that end a chunked body. */
export function lastChunk(): Uint8Array {
  return CRLF_LAST;
}

/** Frames `data` as one chunk of a chunked body, in a single buffer. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const size = data.byteLength.toString(16);
  const out = allocateShared(size.length + data.byteLength + 4);
  writeLatin1(size, out, 0);
  out[size.length] = 0x0d;
  out[size.length + 1] = 0x0a;
  out.set(data, size.length + 2);
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = 0x0a;
  return out;
}
