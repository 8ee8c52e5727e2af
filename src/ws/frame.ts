/**
 * RFC 6455 frame constants and the encoder for server frames (never masked).
 *
 * @module
 */

/** Frame opcodes (RFC 6455 §5.2). */
export const OP_CONTINUATION = 0x0;
/** A text frame: UTF-8 payload. */
export const OP_TEXT = 0x1;
/** A binary frame. */
export const OP_BINARY = 0x2;
/** A close frame: optional 2-byte code, then a UTF-8 reason. */
export const OP_CLOSE = 0x8;
/** A ping: the peer answers with a pong carrying the same payload. */
export const OP_PING = 0x9;
/** A pong. */
export const OP_PONG = 0xa;

/** Close codes portico sends. */
export const CLOSE_NORMAL = 1000;
/** The server is going away (graceful shutdown). */
export const CLOSE_GOING_AWAY = 1001;
/** The peer broke the protocol. */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** No status code was present in the close frame (never sent on the wire). */
export const CLOSE_NO_STATUS = 1005;
/** The connection closed without a close frame (never sent on the wire). */
export const CLOSE_ABNORMAL = 1006;
/** A text message was not valid UTF-8. */
export const CLOSE_INVALID_DATA = 1007;
/** A message was larger than `maxPayload`. */
export const CLOSE_TOO_BIG = 1009;
/** The server hit an unexpected condition. */
export const CLOSE_INTERNAL_ERROR = 1011;

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4):
 * 1000–1003, 1007–1011 (and the registered 1012–1014), or 3000–4999.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/** Builds one unmasked frame: header and payload in one buffer, so that it goes out in one write. */
export function encodeFrame(opcode: number, payload: Uint8Array, rsv1 = false): Uint8Array {
  const n = payload.byteLength;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + n);
  writeHead(frame, opcode, n, rsv1);
  frame.set(payload, head);
  return frame;
}

/** Writes a frame header for a payload of `n` bytes at the start of `frame`. */
function writeHead(frame: Uint8Array, opcode: number, n: number, rsv1: boolean): void {
  frame[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (n < 126) {
    frame[1] = n;
  } else if (n < 65536) {
    frame[1] = 126;
    frame[2] = n >>> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 127;
    // 2^53 is far beyond any buffer: the high word fits in a double exactly.
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    frame[2] = (hi >>> 24) & 0xff;
    frame[3] = (hi >>> 16) & 0xff;
    frame[4] = (hi >>> 8) & 0xff;
    frame[5] = hi & 0xff;
    frame[6] = lo >>> 24;
    frame[7] = (lo >>> 16) & 0xff;
    frame[8] = (lo >>> 8) & 0xff;
    frame[9] = lo & 0xff;
  }
}

const encoder = new TextEncoder();

/**
 * A copy of `bytes` (or of `bytes[start, end)`). Not `bytes.slice()`: on a
 * Node `Buffer` (what Node's sockets and zlib hand out) `slice` is a view
 * into the same memory, not a copy.
 */
export function copyBytes(bytes: Uint8Array, start = 0, end: number = bytes.byteLength): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

/**
 * Builds a text frame straight from a string. Short ASCII strings (the
 * common chat message) are written by a loop into one exact-size buffer: on
 * Deno every typed array and every TextEncoder call costs about 0.5 µs, so
 * this saves three of them per message. Others are encoded in place behind
 * their header, or, when long, encoded first.
 */
export function encodeTextFrame(text: string): Uint8Array {
  const n = text.length;
  if (n <= 125) {
    const frame = new Uint8Array(2 + n);
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) break;
      frame[2 + i] = c;
    }
    if (i === n) {
      frame[0] = 0x80 | OP_TEXT;
      frame[1] = n;
      return frame;
    }
  }
  // At most 3 bytes per UTF-16 unit; 41 units always fit in a 125-byte payload.
  if (n <= 41) {
    const frame = new Uint8Array(2 + n * 3);
    const { written } = encoder.encodeInto(text, frame.subarray(2));
    frame[0] = 0x80 | OP_TEXT;
    frame[1] = written;
    return frame.subarray(0, 2 + written);
  }
  return encodeFrame(OP_TEXT, encoder.encode(text));
}

/** A close frame's payload: the code, then the reason in UTF-8 (no code: empty). */
export function closePayload(code: number | undefined, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const r = encoder.encode(reason);
  const p = new Uint8Array(2 + r.byteLength);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return p;
}
