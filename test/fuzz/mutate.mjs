// Mutations for the differential fuzzer: byte-level edits biased towards the
// bytes and pieces that decide HTTP/1.1 framing. Deterministic for a seed.

/** xorshift32: a small deterministic generator, `next()` in [0, 2^32). */
export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    this.x = (seed >>> 0) || 0x9e3779b9;
  }
  next() {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>>= 0;
    return x;
  }
  /** An integer in [0, n). */
  below(n) {
    return this.next() % n;
  }
  /** One element of `list`. */
  pick(list) {
    return list[this.below(list.length)];
  }
}

const BYTES = [
  0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x3d, 0x22, 0x5c, 0x2f, 0x3f, 0x23, 0x25, 0x2d, 0x00, 0x01, 0x7f, 0x80,
  0xff, 0x30, 0x31, 0x35, 0x39, 0x61, 0x66, 0x41, 0x46, 0x48, 0x54, 0x40, 0x2a, 0x2b, 0x0b, 0x0c,
];
const PIECES = [
  "\r\n", "\r\n\r\n", "\n", "\r", " ", "\t", ":", ",", ";", "0\r\n\r\n", "Content-Length: 5\r\n", "Content-Length: 0\r\n",
  "Content-Length: 05\r\n", "Content-Length: 1 \r\n", "Content-Length:\t3\t\r\n", "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: ,chunked\r\n", "Transfer-Encoding: chunked, chunked\r\n", "Transfer-Encoding: gzip\r\n",
  "Transfer-Encoding: identity\r\n", "Connection: close\r\n", "Connection: keep-alive\r\n",
  "Connection: upgrade\r\nUpgrade: websocket\r\n", "Host: a\r\n", "Host: b\r\n", "Host:\r\n", "Expect: 100-continue\r\n",
  "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", " HTTP/1.1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "POST", "chunked", "5\r\nhello\r\n",
  ";ext=1", ';q="x"', "ffffffffffffffff", "\xe9", "%00", "/a?b#c", "*", "http://a/", "a:1", "X-Y: z\r\n", "0x5",
];
const enc = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const PIECE_BYTES = PIECES.map(enc);

function splice(a, at, del, ins) {
  const out = new Uint8Array(a.length - del + ins.length);
  out.set(a.subarray(0, at));
  out.set(ins, at);
  out.set(a.subarray(at + del), at + ins.length);
  return out;
}

// Offsets just after each LF: where lines start.
function lineStarts(a) {
  const starts = [0];
  for (let k = 0; k < a.length; k++) if (a[k] === 0x0a) starts.push(k + 1);
  return starts;
}

/**
 * One to four random edits of `input`; `other` is a second seed to splice with.
 * @param {Rng} rng
 * @param {Uint8Array} input
 * @param {Uint8Array} other
 * @returns {Uint8Array}
 */
export function mutate(rng, input, other) {
  let a = input;
  const n = 1 + rng.below(4);
  for (let m = 0; m < n; m++) {
    const at = rng.below(a.length + 1);
    switch (rng.below(10)) {
      case 0: // replace a byte
        if (a.length > 0) a = splice(a, Math.min(at, a.length - 1), 1, [rng.pick(BYTES)]);
        break;
      case 1: // insert a byte
        a = splice(a, at, 0, [rng.pick(BYTES)]);
        break;
      case 2: // insert a piece
      case 3:
        a = splice(a, at, 0, rng.pick(PIECE_BYTES));
        break;
      case 4: // insert a piece at a line start
      case 5: {
        const starts = lineStarts(a);
        a = splice(a, rng.pick(starts), 0, rng.pick(PIECE_BYTES));
        break;
      }
      case 6: // delete a few bytes
        a = splice(a, at, Math.min(a.length - at, 1 + rng.below(6)), []);
        break;
      case 7: { // repeat a line
        const starts = lineStarts(a);
        const k = rng.below(starts.length);
        const end = k + 1 < starts.length ? starts[k + 1] : a.length;
        a = splice(a, starts[k], 0, a.slice(starts[k], end));
        break;
      }
      case 8: // flip the case of a letter
        if (a.length > 0) {
          const k = Math.min(at, a.length - 1);
          const c = a[k];
          if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) a = splice(a, k, 1, [c ^ 0x20]);
        }
        break;
      case 9: { // splice with another input
        const cut = rng.below(other.length + 1);
        a = splice(a, at, a.length - at, other.subarray(cut));
        break;
      }
    }
  }
  return a;
}
