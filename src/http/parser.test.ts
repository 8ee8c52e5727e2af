import { describe, expect, it } from "vitest";
import type { HttpError } from "./errors.ts";
import { type ParserLimits, type RequestHead, RequestParser } from "./parser.ts";
import { BIG, SMALL_LIMITS, TRICKY } from "../../test/fuzz/corpus.mjs";
import { fill } from "../../test/fixtures/prng.mjs";

interface Message {
  head: RequestHead;
  body: string;
}

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Feeds `input` in pieces of `piece` bytes, re-feeding after each message like the connection does. */
function parse(input: string, piece = Infinity, limits: Partial<ParserLimits> = {}): Message[] {
  const out: Message[] = [];
  let current: Message | null = null;
  const p = new RequestParser({
    onHead: (head) => (current = { head, body: "" }),
    onBody: (c) => (current!.body += String.fromCharCode(...c)),
    onComplete: () => out.push(current!),
  }, limits);
  const all = bytes(input);
  for (let at = 0; at < all.length;) {
    let chunk = all.subarray(at, Math.min(all.length, at + piece));
    at += chunk.length;
    while (chunk.length > 0) {
      const n = p.execute(chunk);
      chunk = chunk.subarray(n);
    }
  }
  return out;
}

function errorOf(input: string, limits: Partial<ParserLimits> = {}): HttpError {
  for (const piece of [Infinity, 1]) {
    try {
      parse(input, piece, limits);
    } catch (e) {
      if (piece === 1) return e as HttpError;
      continue;
    }
    throw new Error(`no error for ${JSON.stringify(input)} in pieces of ${piece}`);
  }
  throw new Error("unreachable");
}

const PIPELINE = "\r\nGET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n" +
  "POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello" +
  "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
  '5;name=value;q="quoted \\" text"\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-Field: yes\r\n\r\n' +
  "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n" +
  "GET http://example.com:8080/abs HTTP/1.1\r\nHost: example.com:8080\r\n\r\n" +
  "GET /old HTTP/1.0\r\n\r\n";

describe("RequestParser", () => {
  it("parses the four target forms, bodies and pipelined messages identically at every split size", () => {
    const whole = parse(PIPELINE);
    expect(whole.map((m) => [m.head.method, m.head.target, m.head.form, m.body])).toEqual([
      ["GET", "/a?x=1", "origin", ""],
      ["POST", "/b", "origin", "hello"],
      ["PUT", "/c", "origin", "hello world"],
      ["OPTIONS", "*", "asterisk", ""],
      ["GET", "http://example.com:8080/abs", "absolute", ""],
      ["GET", "/old", "origin", ""],
    ]);
    expect(whole[0].head.headers).toEqual(["Host", "example.com", "X-Multi", "1", "x-multi", "2"]);
    expect(whole[2].head.framing).toBe("chunked");
    expect(whole[1].head.contentLength).toBe(5);
    for (const piece of [1, 2, 3, 7, 13, 64]) {
      expect(parse(PIPELINE, piece)).toEqual(whole);
    }
  });

  it("applies the keep-alive rules of HTTP/1.0 and 1.1", () => {
    const ka = (req: string) => parse(req)[0].head.keepAlive;
    expect(ka("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).toBe(true);
    expect(ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, Close\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.0\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).toBe(true);
  });

  it("trims optional whitespace around field values and keeps obs-text bytes", () => {
    const [m] = parse("GET / HTTP/1.1\r\nHost: a\r\nX:  \t v a l \t \r\nY: D\xfcsseldorf\r\nZ:\r\n\r\n");
    expect(m.head.headers).toEqual(["Host", "a", "X", "v a l", "Y", "D\xfcsseldorf", "Z", ""]);
  });

  it("decodes each head of a pipelined series on its own, obs-text or not, whole or byte by byte", () => {
    const input = "GET /1 HTTP/1.1\r\nY: \xe9\xff\r\nHost: a\r\n\r\n" +
      "GET /2 HTTP/1.1\r\nY: plain\r\nHost: a\r\n\r\n" +
      "GET /3 HTTP/1.1\r\nY: \x80\r\nHost: a\r\n\r\n";
    for (const piece of [Infinity, 1, 7]) {
      expect(parse(input, piece).map((m) => [m.head.target, m.head.headers[1]])).toEqual([
        ["/1", "\xe9\xff"],
        ["/2", "plain"],
        ["/3", "\x80"],
      ]);
    }
  });

  it("recognises framing fields in any case, and only those", () => {
    const [m] = parse(
      "POST / HTTP/1.1\r\nhOsT: a\r\nCONTENT-LENGTH: 3\r\nContent-Lengtx: 9\r\nConnectioN: Close\r\n\r\nabc",
    );
    expect(m.head.host).toBe("a");
    expect(m.head.contentLength).toBe(3);
    expect(m.body).toBe("abc");
    expect(m.head.keepAlive).toBe(false);
    const [c] = parse("POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-encoding: Chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n");
    expect(c.head.framing).toBe("chunked");
    expect(c.body).toBe("xyz");
  });

  it("accepts optional whitespace after Content-Length and Transfer-Encoding values", () => {
    const [m] = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t3 \t\r\n\r\nabc");
    expect([m.head.contentLength, m.body]).toEqual([3, "abc"]);
    const [c] = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked\t \r\n\r\n1\r\nx\r\n0\r\n\r\n");
    expect([c.head.framing, c.body]).toEqual(["chunked", "x"]);
  });

  it("ignores empty Transfer-Encoding list elements (RFC 9110 §5.6.1)", () => {
    for (const te of [",chunked", " , chunked", "chunked,", "gzip, ,chunked , "]) {
      const [m] = parse(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}\r\n\r\n2\r\nok\r\n0\r\n\r\n`);
      expect([m.head.framing, m.body], te).toEqual(["chunked", "ok"]);
    }
    const [two] = parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n",
    );
    expect(two.head.framing).toBe("chunked");
  });

  it("reports the framing fault first when a head has several", () => {
    const e = errorOf("POST * HTTP/1.1\r\nHost: a\r\nHost: b\r\nTransfer-Encoding: gzip\r\n\r\n");
    expect(e.code).toBe("INVALID_TRANSFER_ENCODING");
  });

  it("reports every method as sent, the common ones and any other token, case kept", () => {
    const methods = [
      "GET",
      "PUT",
      "POST",
      "HEAD",
      "PATCH",
      "DELETE",
      "OPTIONS",
      "get",
      "Post",
      "GETS",
      "PUTS",
      "HEADS",
    ];
    for (const m of [...methods, "PROPFIND", "M-SEARCH", "PATCHY", "DELETES", "OPTIONSX", "G", "PU"]) {
      expect(parse(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`)[0].head.method).toBe(m);
    }
  });

  it("judges every Host, whatever the request before it carried", () => {
    for (let round = 0; round < 2; round++) {
      expect(parse("GET / HTTP/1.1\r\nHost: good.example\r\n\r\n")[0].head.host).toBe("good.example");
      expect(errorOf('GET / HTTP/1.1\r\nHost: bad"host\r\n\r\n').code).toBe("INVALID_HOST");
      expect(parse("GET / HTTP/1.1\r\nHost: good.example\r\n\r\n")[0].head.host).toBe("good.example");
      expect(errorOf("GET / HTTP/1.1\r\nHost: good.example\r\nHost: good.example\r\n\r\n").code).toBe(
        "INVALID_HOST",
      );
      expect(errorOf("GET / HTTP/1.1\r\nHost: good.example/\r\n\r\n").code).toBe("INVALID_HOST");
    }
  });

  it("reports each head's own target and Host when they repeat the last ones, differ by a byte, or differ in case", () => {
    const seq: [string, string][] = [
      ["/x", "a.example"],
      ["/x", "a.example"],
      ["/x?", "a.example:8080"],
      ["/X", "A.example"],
      ["/x", "a.exampl"],
      ["/xy", "a.example"],
      ["/x", "a.example"],
    ];
    for (const [target, host] of seq) {
      for (const piece of [Infinity, 1]) {
        const [m] = parse(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nX: ${host}\r\n\r\n`, piece);
        expect([m.head.target, m.head.host, m.head.headers], `${target} ${host}`).toEqual([target, host, [
          "Host",
          host,
          "X",
          host,
        ]]);
      }
    }
  });

  it("flags Expect: 100-continue", () => {
    const [m] = parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx");
    expect(m.head.expectContinue).toBe(true);
  });

  const bad: [string, string, number][] = [
    ["bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400],
    ["bare LF between fields", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 400],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400],
    ["space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
    ["invalid token in name", "GET / HTTP/1.1\r\nHo@st: a\r\n\r\n", 400],
    ["control character in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400],
    ["CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400],
    ["HTTP/0.9 request line", "GET /\r\n\r\n", 400],
    ["non-ASCII in target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400],
    ["absolute-form with a quote in its authority", 'GET http://"/ HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    [
      "Content-Length and Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
    ],
    ["differing Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
    [
      "the same Content-Length twice",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
      400,
    ],
    [
      "Content-Length 5 and 05",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nhello",
      400,
    ],
    ["Content-Length as a list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400],
    ["Transfer-Encoding with only empty elements", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n", 400],
    [
      "chunked after an empty element, then gzip",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,gzip\r\n\r\n",
      400,
    ],
    ["Content-Length with sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400],
    ["Content-Length overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400],
    ["chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400],
    [
      "chunked twice",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
    ],
    ["bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    [
      "space after chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
      400,
    ],
    [
      "chunk data too long",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
      400,
    ],
    [
      "unbalanced quote in extension",
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a="x\r\nh\r\n',
      400,
    ],
    ["HTTP/2 version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505],
    ["unknown expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417],
    ["CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501],
  ];
  for (const [name, input, status] of bad) {
    it(`rejects ${name} with ${status}, whole or byte by byte`, () => {
      expect(errorOf(input).status).toBe(status);
    });
  }

  it("rejects early, before the line ends, when the version is impossible", () => {
    expect(errorOf("GET / HTTP/5.6").status).toBe(505);
  });

  it("enforces URL, header and body limits as bytes arrive", () => {
    const limits = { maxUrlBytes: 32, maxHeaderBytes: 64, maxBodyBytes: 10 };
    expect(errorOf(`GET /${"a".repeat(40)}`, limits).code).toBe("URI_TOO_LONG");
    expect(errorOf(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(80)}`, limits).code).toBe("HEADERS_TOO_LARGE");
    expect(errorOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits).code).toBe("BODY_TOO_LARGE");
    expect(errorOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", limits).code)
      .toBe("BODY_TOO_LARGE");
    expect(parse(`GET /${"a".repeat(31)} HTTP/1.1\r\nHost: a\r\n\r\n`, 1, limits)).toHaveLength(1);
  });

  // Issue 18.6: the verdict (messages, error code) is a function of the bytes alone.
  describe("gives the same verdict however the bytes are split", () => {
    /** Everything a server would act on: each message, then how the input ended. */
    function verdict(all: Uint8Array, cuts: number[], limits: Partial<ParserLimits>): unknown[] {
      const out: unknown[] = [];
      let current: { head: RequestHead; body: string } | null = null;
      const p = new RequestParser({
        onHead: (head) => (current = { head, body: "" }),
        onBody: (c) => (current!.body += String.fromCharCode(...c)),
        onComplete: () => out.push(current),
      }, limits);
      let from = 0;
      try {
        for (const to of [...cuts, all.length]) {
          let chunk = all.subarray(from, to);
          from = to;
          while (chunk.length > 0) chunk = chunk.subarray(p.execute(chunk));
        }
      } catch (e) {
        const err = e as HttpError;
        out.push(`error ${err.code} ${err.status}`);
        return out;
      }
      out.push(p.idle ? "idle" : "incomplete");
      return out;
    }

    /** Every single split point, byte by byte, and `rounds` random multi-splits. */
    function checkAllSplits(input: string, limits: Partial<ParserLimits>, every = 1, rounds = 50): void {
      const all = bytes(input);
      const whole = verdict(all, [], limits);
      const show = (cuts: number[]) => `${JSON.stringify(input.slice(0, 80))} cut at ${cuts.join(",")}`;
      for (let k = 1; k < all.length; k += every) {
        expect(verdict(all, [k], limits), show([k])).toEqual(whole);
      }
      expect(verdict(all, Array.from({ length: all.length - 1 }, (_, k) => k + 1), limits), "byte by byte")
        .toEqual(whole);
      const rnd = new Uint8Array(4 * 8);
      let state = all.length;
      for (let r = 0; r < rounds; r++) {
        state = fill(state, rnd);
        const n = 1 + (rnd[0] & 7);
        const cuts = [
          ...new Set(Array.from({ length: n }, (_, k) => {
            const x = (rnd[4 * k] | (rnd[4 * k + 1] << 8) | (rnd[4 * k + 2] << 16)) >>> 0;
            return 1 + (x % (all.length - 1));
          })),
        ].sort((a, b) => a - b);
        expect(verdict(all, cuts, limits), show(cuts)).toEqual(whole);
      }
    }

    for (const c of TRICKY) {
      it(`${c.name} (small limits)`, () => checkAllSplits(c.input, SMALL_LIMITS));
    }
    for (const c of BIG) {
      it(`${c.name} (default limits)`, () => checkAllSplits(c.input, {}, 37, 20));
    }

    it("answers a 20,000-byte method with 400 in one write or two (issue 18.6)", () => {
      const all = bytes(BIG[0].input);
      expect(verdict(all, [], {})).toEqual(["error INVALID_METHOD 400"]);
      expect(verdict(all, [10_000], {})).toEqual(["error INVALID_METHOD 400"]);
    });

    it("counts field lines, not the final empty line, against maxHeaderBytes", () => {
      const at = TRICKY.find((c) => c.name === "header section exactly at the limit")!;
      const beyond = TRICKY.find((c) => c.name === "header section a byte beyond the limit")!;
      expect(verdict(bytes(at.input), [], SMALL_LIMITS).at(-1)).toBe("idle");
      expect(verdict(bytes(beyond.input), [], SMALL_LIMITS).at(-1)).toBe("error HEADERS_TOO_LARGE 431");
    });
  });
});

describe("many parsers at once", () => {
  it("keeps each head's own fields while parsers take turns, whole heads and heads cut at every size", () => {
    // Parsers share their token positions while a head is parsed in one
    // call; one left mid-head keeps its own. Interleave three connections,
    // each cut differently, and compare with each parsed alone.
    const inputs = [
      "GET /a?x=1 HTTP/1.1\r\nHost: one.example\r\nX-A: 1\r\n\r\nPOST /b HTTP/1.1\r\nHost: one.example\r\nContent-Length: 3\r\n\r\nabc",
      "PUT /second/path HTTP/1.1\r\nHost: two.example:8080\r\nTransfer-Encoding: chunked\r\nX-Long: " +
      "v".repeat(300) +
      "\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
      "DELETE /c HTTP/1.1\r\nhost: three\r\nconnection: close\r\n\r\n",
    ];
    const alone = inputs.map((s) => parse(s));
    for (const pieces of [[1, 7, 1000], [3, 1000, 1], [1000, 1, 13], [5, 5, 5]]) {
      const got: Message[][] = inputs.map(() => []);
      const state = inputs.map((s, k) => {
        let current: Message | null = null;
        const parser = new RequestParser({
          onHead: (head) => (current = { head, body: "" }),
          onBody: (c) => (current!.body += String.fromCharCode(...c)),
          onComplete: () => got[k].push(current!),
        });
        return { parser, all: bytes(s), at: 0, piece: pieces[k] };
      });
      while (state.some((s) => s.at < s.all.length)) {
        for (const s of state) {
          if (s.at >= s.all.length) continue;
          let chunk = s.all.subarray(s.at, Math.min(s.all.length, s.at + s.piece));
          s.at += chunk.length;
          while (chunk.length > 0) chunk = chunk.subarray(s.parser.execute(chunk));
        }
      }
      expect(got).toEqual(alone);
    }
    expect(alone.map((m) => m.map((x) => `${x.head.method} ${x.head.target} ${x.head.host} ${x.body}`))).toEqual([
      ["GET /a?x=1 one.example ", "POST /b one.example abc"],
      ["PUT /second/path two.example:8080 hi", "GET /  "],
      ["DELETE /c three "],
    ]);
  });
});

const enc = (s: string) => new TextEncoder().encode(s);

describe("RequestParser.reuse", () => {
  it("hands an idle parser to another handler, and refuses one in the middle of a message", () => {
    const seen: string[] = [];
    const handler = (tag: string) => ({
      onHead: (h: RequestHead) => seen.push(`${tag} ${h.method} ${h.target}`),
      onBody: () => {},
      onComplete: () => seen.push(`${tag} done`),
    });
    const p = new RequestParser(handler("a"));
    p.execute(enc("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    p.reuse(handler("b"));
    p.execute(enc("POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab"));
    expect(() => p.reuse(handler("c"))).toThrow(/between messages/);
    p.execute(enc("c"));
    p.reuse(handler("c"));
    p.execute(enc("GET /3 HTTP/1.1\r\nHo"));
    expect(() => p.reuse(handler("d"))).toThrow(/between messages/);
    p.execute(enc("st: x\r\n\r\n"));
    expect(seen).toEqual(["a GET /1", "a done", "b POST /2", "b done", "c GET /3", "c done"]);
  });
});
