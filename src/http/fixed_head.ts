/**
 * Response heads whose fields never change, encoded once per second rather
 * than once per response.
 *
 * `new Response("text")` (and Hono's `c.text()`, which makes one) always
 * carries the same single field, so its head differs from the last one only
 * in its Date, which changes once a second, and its Content-Length. Building
 * that head as a string and encoding it was about a quarter of the core's
 * work per request on Bun (`bun --cpu-prof bench/core.mjs`: 11% building the
 * string, 14% `encodeInto`, which flattens it first). Here the bytes up to
 * the Content-Length value are kept, and a response is those bytes, the
 * digits, the end of the head and the body, copied into one buffer.
 *
 * Only field lists that are constants of the program may have a
 * {@link FixedFields}: one is kept per list for as long as the program runs.
 *
 * @module
 */

import { allocateShared } from "./bytes.ts";
import { writeLatin1 } from "./chars.ts";
import { type ConnectionField, httpDate, serializeHead } from "./response.ts";

const encoder = new TextEncoder();

// The end of a head after its Content-Length value, for each connection decision.
const END_KEEP = latin1Bytes("\r\n\r\n");
const END_CLOSE = latin1Bytes("\r\nconnection: close\r\n\r\n");
const END_KEEP_ALIVE = latin1Bytes("\r\nconnection: keep-alive\r\n\r\n");

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  writeLatin1(s, out, 0);
  return out;
}

// Up to this many characters, a string body is copied by a loop in
// JavaScript; longer ones through encodeInto, whose call costs more than
// the loop for short text.
const LOOP_LIMIT = 64;

interface Prefix {
  status: number;
  statusText: string;
  date: string;
  bytes: Uint8Array;
}

// Statuses (with reason phrases) one field list keeps heads for: a handler
// answers with a few, and one that uses many costs a rebuild, not memory.
const MAX_PREFIXES = 4;

/**
 * A constant list of response fields, with the encoded heads that carry
 * them.
 *
 * @example
 * ```ts
 * import { FixedFields } from "./fixed_head.ts";
 * const plain = new FixedFields([["content-type", "text/plain;charset=UTF-8"]]);
 * const wire = plain.encode(200, "", "Hello", null); // the whole response, head and body
 * ```
 */
export class FixedFields {
  /** The fields, as [lower-case name, value] pairs: no Date, Content-Length, Transfer-Encoding or Connection. */
  readonly fields: readonly (readonly [string, string])[];
  #prefixes: Prefix[] = [];

  /** Fields that the program never changes. */
  constructor(fields: readonly (readonly [string, string])[]) {
    this.fields = fields;
  }

  /**
   * The wire bytes of a response with these fields, `status` (and
   * `statusText`, or the standard reason phrase when ""), the string `body`
   * sent with its Content-Length, and the `connection` decision; or null
   * when `body` is not ASCII (the caller then encodes it as UTF-8 itself).
   * The bytes are the same as `serializeHead` and the body would give.
   */
  encode(status: number, statusText: string, body: string, connection: ConnectionField): Uint8Array | null {
    const prefix = this.#prefix(status, statusText);
    const end = connection === null ? END_KEEP : connection === "close" ? END_CLOSE : END_KEEP_ALIVE;
    const length = body.length; // the size, if the body is ASCII
    const digits = length < 10 ? 1 : length < 100 ? 2 : length < 1000 ? 3 : length < 10000 ? 4 : String(length).length;
    const out = allocateShared(prefix.length + digits + end.length + length);
    out.set(prefix);
    let at = prefix.length + digits;
    for (let n = length, k = at - 1; k >= prefix.length; k--, n = (n / 10) | 0) out[k] = 0x30 + (n % 10);
    out.set(end, at);
    at += end.length;
    if (length <= LOOP_LIMIT) {
      for (let i = 0; i < length; i++) {
        const c = body.charCodeAt(i);
        if (c > 0x7f) return null;
        out[at + i] = c;
      }
      return out;
    }
    const r = encoder.encodeInto(body, new Uint8Array(out.buffer, out.byteOffset + at, length));
    return r.read === length && r.written === length ? out : null;
  }

  // The head up to its Content-Length value: status line, fields, Date,
  // "content-length: ". Rebuilt when the Date changes.
  #prefix(status: number, statusText: string): Uint8Array {
    const prefixes = this.#prefixes;
    const date = httpDate();
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i];
      if (p.status === status && p.statusText === statusText) {
        if (p.date !== date) {
          p.bytes = this.#build(status, statusText);
          p.date = date;
        }
        return p.bytes;
      }
    }
    const p: Prefix = { status, statusText, date, bytes: this.#build(status, statusText) };
    if (prefixes.length >= MAX_PREFIXES) prefixes.shift();
    prefixes.push(p);
    return p.bytes;
  }

  #build(status: number, statusText: string): Uint8Array {
    // serializeHead with a Content-Length of 0 and no Connection field,
    // cut before the "0": the same field order as every other response.
    const head = serializeHead(status, statusText, this.fields, { kind: "length", length: 0 }, null);
    return latin1Bytes(head.slice(0, head.length - "0\r\n\r\n".length));
  }
}
