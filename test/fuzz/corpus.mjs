/**
 * Tricky requests, as latin1 strings (one char per byte), shared by the
 * parser's split tests, the fuzzer's seeds and the socket split tests.
 *
 * `SMALL_LIMITS` makes the oversized cases short enough to cut at every byte:
 * each limit has a case exactly at it and one a byte beyond, and garbage that
 * starts before or after it.
 */

/** Limits small enough that every case here crosses them within a few hundred bytes. */
export const SMALL_LIMITS = { maxUrlBytes: 32, maxHeaderBytes: 64, maxBodyBytes: 16 };


const H = "Host: a\r\n";
const te = "Transfer-Encoding: chunked\r\n";
// A field line of exactly `n` bytes, CRLF included (n >= 5).
const line = (n) => `X: ${"v".repeat(n - 5)}\r\n`;

/** Cases judged with {@link SMALL_LIMITS}. */
export const TRICKY = [
  { name: "simple GET", input: `GET / HTTP/1.1\r\n${H}\r\n` },
  {
    name: "pipeline of every framing",
    input: `\r\nGET /a?x=1 HTTP/1.1\r\n${H}X-M: 1\r\nx-m: 2\r\n\r\n` +
      `POST /b HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` +
      `PUT /c HTTP/1.1\r\n${H}${te}\r\n5;n=v;q="a\\"b"\r\nhello\r\n1\r\n!\r\n0\r\nT: y\r\n\r\n` +
      `OPTIONS * HTTP/1.1\r\n${H}\r\nGET http://a:8/x HTTP/1.1\r\nHost: a:8\r\n\r\nGET /old HTTP/1.0\r\n\r\n`,
  },
  { name: "obs-text and OWS in values", input: `GET / HTTP/1.1\r\n${H}Y: \t D\xfcs \t\r\nZ:\r\n\r\n` },
  { name: "OWS after framing values", input: `POST / HTTP/1.1\r\n${H}Content-Length: 2 \t\r\n\r\nokGET / HTTP/1.1\r\n${H}\r\n` },
  { name: "empty list elements in Transfer-Encoding", input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: ,chunked, \r\n\r\n1\r\nx\r\n0\r\n\r\n` },
  { name: "method exactly at the limit", input: `${"M".repeat(32)} / HTTP/1.1\r\n${H}\r\n` },
  { name: "method a byte beyond the limit", input: `${"M".repeat(33)} / HTTP/1.1\r\n${H}\r\n` },
  { name: "long method then garbage", input: `${"M".repeat(40)}\x01 / HTTP/1.1\r\n\r\n` },
  { name: "garbage inside the method limit", input: `${"M".repeat(20)}\x01${"M".repeat(20)} / HTTP/1.1\r\n\r\n` },
  { name: "target exactly at the limit", input: `GET /${"a".repeat(31)} HTTP/1.1\r\n${H}\r\n` },
  { name: "target a byte beyond the limit", input: `GET /${"a".repeat(32)} HTTP/1.1\r\n${H}\r\n` },
  { name: "long target then garbage", input: `GET /${"a".repeat(40)}\x7f HTTP/1.1\r\n${H}\r\n` },
  { name: "header section exactly at the limit", input: `GET / HTTP/1.1\r\n${H}${line(64 - H.length)}\r\n` },
  { name: "header section a byte beyond the limit", input: `GET / HTTP/1.1\r\n${H}${line(65 - H.length)}\r\n` },
  { name: "long field value then garbage", input: `GET / HTTP/1.1\r\n${H}X: ${"v".repeat(80)}\x00\r\n\r\n` },
  { name: "garbage right at the header limit", input: `GET / HTTP/1.1\r\n${H}X: ${"v".repeat(52)}\x00vvvv\r\n\r\n` },
  { name: "long field name without colon", input: `GET / HTTP/1.1\r\n${H}${"N".repeat(80)} x\r\n\r\n` },
  { name: "CR then junk at the header limit", input: `GET / HTTP/1.1\r\n${H}${line(64 - H.length)}\rX` },
  { name: "long garbage", input: "\x16\x03\x01" + "\xc7\x11\xfe\x00 \r\n".repeat(30) },
  { name: "long token garbage", input: "A".repeat(200) },
  { name: "long garbage after a request line", input: `GET / HTTP/1.1\r\n${"\x80\x81 \t:".repeat(40)}` },
  { name: "duplicate Content-Length, same value", input: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello` },
  { name: "duplicate Content-Length, 5 and 05", input: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello` },
  { name: "Content-Length and Transfer-Encoding", input: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n${te}\r\n0\r\n\r\n` },
  { name: "Content-Length list", input: `POST / HTTP/1.1\r\n${H}Content-Length: 1, 1\r\n\r\nx` },
  { name: "body beyond the limit", input: `POST / HTTP/1.1\r\n${H}Content-Length: 17\r\n\r\n${"b".repeat(17)}` },
  { name: "chunked body beyond the limit", input: `POST / HTTP/1.1\r\n${H}${te}\r\n9\r\n123456789\r\n9\r\n123456789\r\n0\r\n\r\n` },
  { name: "chunk size with junk", input: `POST / HTTP/1.1\r\n${H}${te}\r\n5 \r\nhello\r\n0\r\n\r\n` },
  { name: "chunk data too long", input: `POST / HTTP/1.1\r\n${H}${te}\r\n2\r\nhello\r\n0\r\n\r\n` },
  { name: "huge chunk size", input: `POST / HTTP/1.1\r\n${H}${te}\r\n${"f".repeat(20)}\r\n` },
  { name: "trailer section beyond the limit", input: `POST / HTTP/1.1\r\n${H}${te}\r\n0\r\nT: ${"t".repeat(70)}\r\n\r\n` },
  { name: "bare LF", input: `GET / HTTP/1.1\n${H}\r\n` },
  { name: "obs-fold", input: `GET / HTTP/1.1\r\n${H}X: 1\r\n 2\r\n\r\n` },
  { name: "bad second request of a pipeline", input: `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n` },
  { name: "HTTP/2 preface", input: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" },
  { name: "HTTP/5 version", input: `GET / HTTP/5.6\r\n${H}\r\n` },
  {
    name: "declined upgrade, then a request",
    input: `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /n HTTP/1.1\r\n${H}\r\n`,
  },
  {
    name: "declined upgrade with a body, then frame-like bytes",
    input: `POST /u HTTP/1.1\r\n${H}Connection: upgrade\r\nUpgrade: x\r\nContent-Length: 2\r\n\r\nab\x81\x85abcd`,
  },
  { name: "unfinished head", input: `GET / HTTP/1.1\r\n${H}X: 1\r\n` },
  { name: "unfinished body", input: `POST / HTTP/1.1\r\n${H}Content-Length: 9\r\n\r\nabc` },
];

/** Cases judged with the default limits: the reproductions of issue 18.6. */
export const BIG = [
  { name: "20,000-byte method", input: `${"A".repeat(20_000)} / HTTP/1.1\r\nHost: a\r\n\r\n` },
  { name: "20,000-byte target", input: `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n` },
  { name: "20,000 bytes of field value", input: `GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(20_000)}\x01\r\n\r\n` },
  { name: "long garbage", input: "GET / HTTP/1.1\r\nHost: a\r\n" + "\x80x: y\r\n".repeat(3000) + "\x00" },
];
