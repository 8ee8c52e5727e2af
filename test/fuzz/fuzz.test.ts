/**
 * The differential fuzzer in `npm test`: a fixed seed and a small budget,
 * portico's RequestParser (whole and split) against Node's bundled llhttp.
 * `npm run fuzz` runs it with any seed and budget. Every accepted difference
 * is a class in DIVERGENCES.md, which this test reads as its allow-list.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RequestParser } from "../../src/http/parser.ts";
import { BIG, TRICKY } from "./corpus.mjs";
import { describeFinding, fuzz, judge } from "./fuzz.mjs";
import { allowList, CLASSES, compare } from "./judge.mjs";
import { llhttpOutcome } from "./llhttp.mjs";
import { porticoOutcome } from "./outcome.mjs";
import { SEEDS } from "./seeds.mjs";

const allowed = allowList(readFileSync(new URL("./DIVERGENCES.md", import.meta.url), "utf8"));
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("differential fuzzer (portico RequestParser vs llhttp strict)", () => {
  it("has one documented row per class and one class per documented row", () => {
    expect([...allowed].sort()).toEqual(Object.keys(CLASSES).sort());
  });

  // One reproduction per class (each one found by the fuzzer), so a class's rule is known to match what it describes.
  const EXAMPLES: [string, string][] = [
    ["host", "GET / HTTP/1.1\r\n\r\n"],
    ["refused-methods", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n"],
    ["versions", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"],
    ["versions", "POST /\n\r\n"],
    ["target-form", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["limits", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffff"],
    ["transfer-coding", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["transfer-coding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"],
    ["trailer-fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length:\r\n\r\n"],
    ["trailer-fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["stray-cr-lf", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["stray-cr-lf", "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r"],
    ["method-tokens", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["ows-htab", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\t\r\n\r\nok"],
    ["ows-htab", "POST / HTTP/1.1\r\nHost:\r\nConnection:upgrade\t\r\nUpgrade:x\r\nContent-Length:2\r\n\r\nab"],
    ["ows-htab", "GET / HTTP/1.0\r\nConnection: keep-alive\t\r\n\r\nGET / HTTP/1.0\r\n\r\n"],
    ["te-empty-elements", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n"],
    ["same-fault-other-byte", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n"],
    ["same-fault-other-byte", "GET q HTTP/1.1\r\nt:\r\na"],
    ["request-line-spaces", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["chunk-extensions", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;=\r\nx\r\n0\r\n\r\n"],
    ["close-wins", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\nGET / HTTP/1.0\r\n\r\n"],
    ["h2-preface", "PRI * HTTP/1.1\r\no"],
    ["minor-versions", "GET / HTTP/1.5\r\nHost: a\r\n\r\n"],
    ["minor-versions", "GET / HTTP/1.5"],
  ];

  it("sorts one known reproduction of each class into that class", () => {
    expect(new Set(EXAMPLES.map(([id]) => id))).toEqual(new Set(Object.keys(CLASSES)));
    for (const [id, input] of EXAMPLES) {
      const counts: Record<string, number> = {};
      expect(judge(RequestParser, bytes(input), [], allowed, counts), input).toBeNull();
      expect(counts, input).toEqual({ [id]: 1 });
    }
  });

  it("frames the well-formed seeds exactly as llhttp does", () => {
    for (const s of SEEDS) {
      const p = porticoOutcome(RequestParser, bytes(s));
      const l = llhttpOutcome(bytes(s));
      expect(compare(p, l), s).toBeNull();
      expect(p.end, s).not.toBe("error");
    }
  });

  it("reports a framing difference and a split-dependent verdict, which no class accepts", () => {
    // A parser that drops the last body byte: both accept, framing differs.
    class ShortBody extends RequestParser {
      constructor(h: ConstructorParameters<typeof RequestParser>[0]) {
        super({ ...h, onBody: (c) => h.onBody(c.subarray(0, Math.max(0, c.length - 1))) });
      }
    }
    const post = bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    expect(judge(ShortBody, post, [], allowed)).toMatchObject({ kind: "framing", id: null });
    // A parser that fails whenever a chunk ends inside a head.
    class SplitSensitive extends RequestParser {
      override execute(data: Uint8Array): number {
        const n = super.execute(data);
        if (!this.idle && data.length < 20) throw Object.assign(new Error("split"), { code: "INVALID_METHOD" });
        return n;
      }
    }
    expect(judge(SplitSensitive, post, [10], allowed)).toMatchObject({ kind: "split" });
  });

  it("finds no unexplained difference in 10,000 mutated requests (seed 1)", () => {
    const report = fuzz({
      RequestParser,
      seed: 1,
      seeds: [...SEEDS, ...TRICKY.map((c) => c.input), ...BIG.map((c) => c.input.slice(0, 4096))],
      allowed,
      iterations: 10_000,
    });
    expect(report.runs).toBe(10_000);
    expect(report.findings.map(describeFinding)).toEqual([]);
    // The run reaches the interesting cases, not only garbage.
    for (const id of ["host", "method-tokens", "ows-htab", "te-empty-elements", "same-fault-other-byte"]) {
      expect(report.counts[id], id).toBeGreaterThan(0);
    }
  });
});
