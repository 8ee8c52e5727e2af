/**
 * The same bytes get the same answer however TCP splits them (issue 18.6),
 * over real sockets under node, deno and bun: every tricky request of
 * test/fuzz/corpus.mjs is written whole, then cut in two at every byte
 * boundary (a pause between the pieces, so the server reads them apart), and
 * the statuses and bodies of the answers must be the same every time. The
 * parser-level property (every split, random multi-splits) is in
 * src/http/parser.test.ts.
 */
import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RequestParser } from "../../src/http/parser.ts";
import { BIG, type Case, SMALL_LIMITS, TRICKY } from "../fuzz/corpus.mjs";
import { porticoOutcome } from "../fuzz/outcome.mjs";
import { printStderrOnFailure, RUNTIMES, type Runtime, type RunningServer, startServer } from "../helpers/runtime.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLOSE = "GET /end HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
/** Connections in flight at once. */
const PARALLEL = 16;

/**
 * The bytes to send for a case: as they are when the parser says they end in
 * an error or a close; with a last request that asks to close when they end
 * between requests (so the server answers all and closes). Cases that end in
 * an unfinished request are left out: their answer is the timeout's.
 */
function wireInput(c: Case, limits: object): string | null {
  const o = porticoOutcome(RequestParser, Buffer.from(c.input, "latin1"), [], limits);
  if (o.end === "error" || o.end === "closed") return c.input;
  if (o.end === "idle") return c.input + CLOSE;
  return null;
}

interface Answer {
  status: number;
  body: string;
}

// Parses the responses in `raw` (content-length or chunked; no 1xx here).
function parseAnswers(raw: Buffer): Answer[] {
  const out: Answer[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf("\r\n\r\n", at);
    if (end < 0) throw new Error(`truncated head: ${JSON.stringify(raw.subarray(at).toString("latin1"))}`);
    const head = raw.subarray(at, end).toString("latin1");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    at = end + 4;
    let body = "";
    if (length) {
      body = raw.subarray(at, at + Number(length[1])).toString("latin1");
      at += Number(length[1]);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      for (;;) {
        const line = raw.indexOf("\r\n", at);
        const size = parseInt(raw.subarray(at, line).toString("latin1"), 16);
        at = line + 2;
        if (size === 0) {
          at = raw.indexOf("\r\n\r\n", at - 2) + 4;
          break;
        }
        body += raw.subarray(at, at + size).toString("latin1");
        at += size + 2;
      }
    }
    out.push({ status, body });
  }
  return out;
}

/** Writes `input` cut at `cut` (0: whole), reads until the server closes; the answers. */
function exchange(port: number, input: Buffer, cut: number): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 10 s (cut at ${cut}); got ${JSON.stringify(Buffer.concat(chunks).toString("latin1"))}`));
    }, 10_000);
    socket.on("data", (d) => chunks.push(d));
    // The server may close (after a 4xx) while we still write: a reset on our
    // write is expected then; the answers read before it count.
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseAnswers(Buffer.concat(chunks)));
      } catch (e) {
        reject(e);
      }
    });
    socket.on("connect", async () => {
      if (cut === 0) socket.write(input);
      else {
        socket.write(input.subarray(0, cut));
        await sleep(3);
        if (!socket.destroyed) socket.write(input.subarray(cut));
      }
    });
  });
}

/** Runs `cut` for every cut point 1..n-1, `PARALLEL` at a time; returns the first mismatch or null. */
async function everyCut(
  port: number,
  input: Buffer,
  whole: Answer[],
  cuts: number[],
): Promise<{ cut: number; got: Answer[] } | null> {
  let next = 0;
  let bad: { cut: number; got: Answer[] } | null = null;
  const worker = async () => {
    while (next < cuts.length && bad === null) {
      const cut = cuts[next++];
      const got = await exchange(port, input, cut);
      if (JSON.stringify(got) !== JSON.stringify(whole)) bad ??= { cut, got };
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return bad;
}

const small = TRICKY.map((c) => ({ c, wire: wireInput(c, SMALL_LIMITS) })).filter((x) => x.wire !== null);
const big = BIG.map((c) => ({ c, wire: wireInput(c, {}) })).filter((x) => x.wire !== null);

describe.each(RUNTIMES)("split writes on %s", (runtime: Runtime) => {
  let server: RunningServer;
  let defaultPort = 0;

  beforeAll(async () => {
    server = await startServer(runtime, "split.mjs");
    defaultPort = Number(/^DEFAULT (\d+)/m.exec(server.stdout())![1]);
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  it("gives every tricky request the same answers when cut at each byte boundary (small limits)", async () => {
    expect(small.length).toBeGreaterThan(30);
    for (const { c, wire } of small) {
      const input = Buffer.from(wire!, "latin1");
      const whole = await exchange(server.port, input, 0);
      // The whole write gets the parser's verdict: an error's status last.
      const verdict = porticoOutcome(RequestParser, input, [], SMALL_LIMITS);
      expect(whole.length, c.name).toBeGreaterThan(0);
      if (verdict.end === "error") expect(whole.at(-1)!.status, c.name).toBeGreaterThanOrEqual(400);
      else expect(whole.every((a) => a.status === 200), c.name).toBe(true);
      const cuts = Array.from({ length: input.length - 1 }, (_, k) => k + 1);
      expect(await everyCut(server.port, input, whole, cuts), c.name).toBeNull();
    }
  });

  it("answers a 20,000-byte method with 400, and the other big cases alike, in one write or two", async () => {
    for (const { c, wire } of big) {
      const input = Buffer.from(wire!, "latin1");
      const whole = await exchange(defaultPort, input, 0);
      if (c.name === "20,000-byte method") expect(whole.map((a) => a.status)).toEqual([400]);
      // Cut around each limit and through the middle, not at all 20,000 points.
      const cuts = [1, 2, 100, 8191, 8192, 8193, 8194, 10_000, 16_383, 16_384, 16_385, 16_420, input.length - 1]
        .filter((k) => k > 0 && k < input.length);
      expect(await everyCut(defaultPort, input, whole, cuts), c.name).toBeNull();
    }
  });
});
