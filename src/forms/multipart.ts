/**
 * Form bodies read the same way on every runtime. The platforms' own
 * `formData()` parsers disagree on the multipart bodies browsers and clients
 * send (measured on Node 20, Deno 2.9 and Bun 1.4, 2026-12-03):
 *
 * - a body cut off before its closing delimiter is an error on Node and Bun,
 *   and on Deno a form without its last part (a lost field, no error);
 * - Bun gives an uploaded file the type `text/plain;charset=utf-8` whatever
 *   the client sent (`application/pdf` included), and an empty file input
 *   (`filename=""`) no name;
 * - Node refuses a preamble, an unquoted `name=a`, a part whose content holds
 *   `CRLF--boundary` followed by other bytes, and any `filename*`; Deno and
 *   Bun take a body with bare-LF line ends as an empty form;
 * - the escapes browsers use in names (`%22` for `"`) are decoded by Node only.
 *
 * One parser, here, settles all of these. It follows RFC 7578 and the
 * WHATWG multipart/form-data parsing rules: a preamble and an epilogue are
 * skipped; every delimiter line ends with CRLF; a part needs a
 * `Content-Disposition: form-data` with a `name`; a part with a `filename`
 * (or `filename*`) is a `File` whose type is the part's `Content-Type`
 * (`text/plain` when it has none, RFC 7578 §4.4); text is UTF-8; a body that
 * ends before the closing delimiter is an error. Errors are `TypeError`s,
 * as the platforms' are.
 *
 * The parser works on the whole body in memory, as the platforms' do: its
 * callers bound the body's size first (`form()`'s `maxBytes`, the server's
 * `maxBodyBytes`).
 *
 * @module
 */

const decoder = new TextDecoder();
const CR = 13;
const LF = 10;
const DASH = 45;

/**
 * Parses a form body by its Content-Type: `multipart/form-data` (with a
 * boundary) or `application/x-www-form-urlencoded`.
 *
 * @throws {TypeError} for another type, a missing boundary or a malformed body.
 *
 * @example
 * ```ts
 * import { parseFormBody } from "./multipart.ts";
 * const body = new TextEncoder().encode("a=1&b=%C3%A9");
 * const data = parseFormBody(body, "application/x-www-form-urlencoded");
 * data.get("b"); // "é"
 * ```
 */
export function parseFormBody(body: Uint8Array, contentType: string | null): FormData {
  const type = contentType ?? "";
  const essence = type.split(";", 1)[0].trim().toLowerCase();
  if (essence === "application/x-www-form-urlencoded") {
    const data = new FormData();
    for (const [name, value] of new URLSearchParams(decoder.decode(body))) data.append(name, value);
    return data;
  }
  if (essence !== "multipart/form-data") {
    throw new TypeError(
      `Content-Type is ${JSON.stringify(type)}, not multipart/form-data or application/x-www-form-urlencoded`,
    );
  }
  const boundary = boundaryOf(type);
  if (boundary === null) throw new TypeError("multipart/form-data without a valid boundary parameter");
  return parseMultipart(body, boundary);
}

/**
 * The boundary parameter of a multipart Content-Type, quoted or not, or
 * null when it is missing or not 1 to 70 characters (RFC 2046 §5.1.1).
 *
 * @example
 * ```ts
 * import { boundaryOf } from "./multipart.ts";
 * boundaryOf('multipart/form-data; boundary="a b"'); // "a b"
 * ```
 */
export function boundaryOf(type: string): string | null {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(type);
  return m ? (m[1] ?? m[2]) : null;
}

/**
 * Parses a multipart/form-data body with the given boundary; see the module docs.
 *
 * @example
 * ```ts
 * import { parseMultipart } from "./multipart.ts";
 * const body = '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n';
 * parseMultipart(new TextEncoder().encode(body), "b").get("a"); // "1"
 * ```
 */
export function parseMultipart(body: Uint8Array, boundary: string): FormData {
  const dashBoundary = new TextEncoder().encode(`--${boundary}`);
  const data = new FormData();
  // The first delimiter may open the body; every other one follows a CRLF.
  let at = startsWith(body, dashBoundary, 0) ? 0 : -1;
  if (at < 0) {
    at = delimiterAt(body, dashBoundary, 0);
    if (at < 0) throw new TypeError("multipart body has no delimiter for its boundary");
    at += 2;
  }
  for (;;) {
    // `at` is at "--boundary"; what follows says whether another part comes.
    let i = at + dashBoundary.byteLength;
    if (body[i] === DASH && body[i + 1] === DASH) return data; // the close delimiter; the epilogue is ignored
    while (body[i] === 32 || body[i] === 9) i++; // transport padding
    if (body[i] !== CR || body[i + 1] !== LF) {
      throw new TypeError(i >= body.byteLength ? "multipart body ends early" : "malformed multipart delimiter line");
    }
    const headersStart = i + 2;
    // The next delimiter first: a part's headers must end before it (a
    // header line that is a delimiter would otherwise swallow a part).
    const next = delimiterAt(body, dashBoundary, headersStart - 2);
    const headersEnd = body[headersStart] === CR && body[headersStart + 1] === LF
      ? headersStart
      : indexOf(body, CRLF_CRLF, headersStart, next < 0 ? body.byteLength : next + 2);
    if (headersEnd < 0) {
      throw new TypeError(
        next < 0 ? "multipart body ends early, in a part's headers" : "multipart part's headers run into a delimiter",
      );
    }
    const contentStart = headersEnd === headersStart ? headersStart + 2 : headersEnd + 4;
    if (next < 0) throw new TypeError("multipart body ends early, before its closing delimiter");
    addPart(data, decoder.decode(body.subarray(headersStart, headersEnd)), body.subarray(contentStart, next));
    at = next + 2;
  }
}

const CRLF_CRLF = new Uint8Array([CR, LF, CR, LF]);

/**
 * Where the next delimiter starts (its CRLF) at or after `from`, or -1. A
 * CRLF and "--boundary" followed by anything but "--", padding and CRLF is
 * content, as RFC 2046 reads it (a sender picks a boundary not in the
 * content, but a near miss must not cut a part short).
 */
function delimiterAt(body: Uint8Array, dashBoundary: Uint8Array, from: number): number {
  for (let i = indexOf(body, CRLF_DASH_DASH, from); i >= 0; i = indexOf(body, CRLF_DASH_DASH, i + 1)) {
    if (!startsWith(body, dashBoundary, i + 2)) continue;
    let j = i + 2 + dashBoundary.byteLength;
    if (body[j] === DASH && body[j + 1] === DASH) return i;
    while (body[j] === 32 || body[j] === 9) j++;
    if ((body[j] === CR && body[j + 1] === LF) || j >= body.byteLength) return i;
  }
  return -1;
}

const CRLF_DASH_DASH = new Uint8Array([CR, LF, DASH, DASH]);

function startsWith(body: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (at + prefix.byteLength > body.byteLength) return false;
  for (let k = 0; k < prefix.byteLength; k++) if (body[at + k] !== prefix[k]) return false;
  return true;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number, end = haystack.byteLength): number {
  const first = needle[0];
  const last = end - needle.byteLength;
  for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.byteLength && haystack[i + j] === needle[j]) j++;
    if (j === needle.byteLength) return i;
  }
  return -1;
}

function addPart(data: FormData, headers: string, content: Uint8Array): void {
  let disposition: string | undefined;
  let type: string | undefined;
  for (const line of headers.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new TypeError(`malformed multipart header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === "content-disposition") disposition = line.slice(colon + 1).trim();
    else if (name === "content-type") type = line.slice(colon + 1).trim();
  }
  if (disposition === undefined) throw new TypeError("multipart part without a Content-Disposition");
  const params = dispositionParams(disposition);
  const name = params.get("name");
  if (name === undefined) throw new TypeError("multipart part without a name");
  const filename = params.get("filename");
  if (filename === undefined) {
    data.append(name, decoder.decode(content));
  } else {
    // `slice`: the File keeps its bytes, not the whole body's buffer.
    data.append(name, new File([content.slice()], filename, { type: type ?? "text/plain" }));
  }
}

/**
 * The parameters of a `form-data` disposition, names lower-cased, values
 * unquoted; `filename*` (RFC 5987, UTF-8) is taken as `filename` where it
 * decodes. Browsers escape `"`, CR and LF in names as `%22`, `%0D` and
 * `%0A` (WHATWG HTML); curl escapes `"` with a backslash. Both are undone.
 */
function dispositionParams(disposition: string): Map<string, string> {
  const m = /^form-data\s*(;|$)/i.exec(disposition);
  if (m === null) throw new TypeError(`multipart part is not form-data: ${JSON.stringify(disposition)}`);
  const params = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const p of disposition.matchAll(re)) {
    const key = p[1].toLowerCase();
    if (params.has(key)) continue;
    const value = p[2] !== undefined ? p[2].replace(/\\(["\\])/g, "$1") : p[3].trim();
    params.set(key, key === "filename*" ? value : unescapeHtml(value));
  }
  const extended = /^utf-8'[^']*'(.*)$/i.exec(params.get("filename*") ?? "");
  if (extended !== null) {
    try {
      params.set("filename", decodeURIComponent(extended[1]));
    } catch {
      // keep the plain filename, if any
    }
  }
  return params;
}

function unescapeHtml(value: string): string {
  return value.includes("%")
    ? value.replace(/%(22|0D|0A)/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
    : value;
}
