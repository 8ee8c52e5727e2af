/**
 * Limits and timeouts end to end (issue 3), the same under node, deno and
 * bun: each limit answers with its status and closes the connection, each
 * timeout cuts what it should, and a slowloris crowd neither starves a
 * normal client nor outlives the header deadline.
 *
 * One fixture process per runtime (test/fixtures/groups.mjs) runs several
 * app servers with different options, started through its control server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RawClient, type RawResponse, req } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime } from "../helpers/runtime.ts";
import { eventually, sleep, uniqueId } from "../helpers/util.ts";
import {
  connectWatched,
  type GroupsFixture,
  type GroupUsage,
  type ResourceRecord,
  startGroupsFixture,
  type WatchedClient,
  within,
} from "../helpers/groups.ts";

const LIMITS = { limits: { maxUrlBytes: 1024, maxHeaderBytes: 2048, maxBodyBytes: 4096, connectionBytes: 16 * 1024 } };
const TIMEOUT_MS = 600;
/**
 * The sweeper checks deadlines every quarter of the shortest timeout; the
 * keep-alive and body deadlines start at a sweep, so they fire up to two sweeps late.
 */
const SWEEP_MS = TIMEOUT_MS / 4;
const TIMEOUTS = { timeouts: { headers: TIMEOUT_MS, body: TIMEOUT_MS, keepAlive: TIMEOUT_MS, send: TIMEOUT_MS } };
/** Slack for scheduling on a loaded machine, on top of the sweeper's resolution. */
const SLACK_MS = 400;

describe.each(RUNTIMES)("limits and timeouts on %s", (runtime: Runtime) => {
  let fx: GroupsFixture;
  let baseline: GroupUsage;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    fx = await startGroupsFixture(runtime, LIMITS);
    ports.limits = fx.port;
    ports.timeouts = await fx.startApp("timeouts", TIMEOUTS);
    ports.wait = await fx.startApp("wait", { limits: { maxConnections: 2, atMaxConnections: "wait" } });
    ports.reject = await fx.startApp("reject", { limits: { maxConnections: 2, atMaxConnections: "reject" } });
    ports.slowloris = await fx.startApp("slowloris", { timeouts: { headers: 2000 } });
    baseline = await fx.usage();
  });
  afterAll(async () => {
    await fx?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => fx?.process));

  /** Reads one response, then expects the server to close the connection (FIN, no reset, nothing more). */
  async function statusThenClose(c: WatchedClient, status: number): Promise<RawResponse> {
    const r = await c.client.readResponse({ timeoutMs: 5000 });
    expect(r.status).toBe(status);
    expect(r.header("connection")).toMatch(/close/i);
    expect(await c.client.waitForServerClose(2000)).toBe(true);
    expect(c.client.buffered.length).toBe(0);
    expect(c.errors).toEqual([]);
    return r;
  }

  async function withClient<T>(port: number, fn: (c: WatchedClient) => Promise<T>): Promise<T> {
    const c = await connectWatched(port);
    try {
      return await fn(c);
    } finally {
      c.client.destroy();
    }
  }

  const usageBack = (name: string) =>
    eventually(() => fx.usage(name), (u) => u.groups === baseline.groups && u.resources === baseline.resources && u.bytes === 0, 3000);

  describe("limits", () => {
    it("maxUrlBytes: a request-target over the limit gets 414, then the connection closes", async () => {
      await withClient(ports.limits!, async (c) => {
        await c.client.write(req("GET", "/hello?" + "q".repeat(1000)));
        expect((await c.client.readResponse()).status).toBe(200); // under the limit: served
        await c.client.write(req("GET", "/hello?" + "q".repeat(1100)));
        await statusThenClose(c, 414);
      });
    });

    it("maxHeaderBytes: a header section over the limit gets 431, then the connection closes", async () => {
      await withClient(ports.limits!, async (c) => {
        await c.client.write(req("GET", "/hello", { "x-padding": "h".repeat(1500) }));
        expect((await c.client.readResponse()).status).toBe(200);
        await c.client.write(req("GET", "/hello", { "x-padding": "h".repeat(2100) }));
        await statusThenClose(c, 431);
      });
    });

    it("maxBodyBytes: a declared Content-Length over the limit gets 413 before any body is sent, then the connection closes", async () => {
      await withClient(ports.limits!, async (c) => {
        await c.client.write(req("POST", "/read", {}, "b".repeat(4096)));
        const ok = await c.client.readResponse();
        expect(ok.status).toBe(200);
        expect(JSON.parse(ok.text())).toEqual({ bytes: 4096 });
        await c.client.write(req("POST", "/read", { "content-length": "4097" }));
        await statusThenClose(c, 413);
      });
    });

    it("maxBodyBytes: a chunked body gets 413 once it grows past the limit, then the connection closes", async () => {
      const id = uniqueId("chunked");
      await withClient(ports.limits!, async (c) => {
        const chunk = `5dc\r\n${"c".repeat(1500)}\r\n`;
        await c.client.write(req("POST", `/read?id=${id}`, { "transfer-encoding": "chunked" }) + chunk + chunk);
        // 3000 bytes so far: under the limit, still being read
        await c.client.expectQuiet(200);
        expect(c.client.peerEnded).toBe(false);
        await c.client.write(chunk); // 4500 > 4096
        await statusThenClose(c, 413);
      });
      const rec = await fx.state<{ bytes: number | null; errorStatus: number | null }>(id);
      expect(rec).toMatchObject({ bytes: null, errorStatus: 413 });
    });

    it("connectionBytes: a connection that makes the server buffer more than its budget is closed", async () => {
      const id = uniqueId("budget");
      await withClient(ports.limits!, async (c) => {
        // a request the handler holds, then 20 KiB of pipelined requests the
        // server has to keep meanwhile: over the 16 KiB budget
        const hello = req("GET", "/hello");
        const flood = hello.repeat(Math.ceil((20 * 1024) / hello.length));
        const t0 = performance.now();
        await c.client.write(req("GET", `/resources?id=${id}&mode=hang`) + flood).catch(() => {});
        expect(await c.client.waitForServerClose(2000)).toBe(true);
        expect(performance.now() - t0).toBeLessThan(1500);
        // none of the pipelined requests was answered
        expect(c.client.buffered.toString("latin1")).not.toContain("hello\n");
      });
      const rec = await eventually(() => fx.state<ResourceRecord>(id), (r) => r?.groupAbortedAt != null, 2000);
      expect(rec?.groupReason?.kind).toBe("budget");
      expect(await usageBack("main")).toEqual(baseline);
    });

    it("connectionBytes: a connection within its budget is served as usual", async () => {
      await withClient(ports.limits!, async (c) => {
        const hello = req("GET", "/hello");
        const pipelined = hello.repeat(Math.floor((8 * 1024) / hello.length));
        await c.client.write(req("GET", "/delay?ms=100") + pipelined);
        const n = pipelined.length / hello.length;
        const rs = await c.client.readResponses(Array(n + 1).fill("GET"));
        expect(rs.map((r) => r.status)).toEqual(Array(n + 1).fill(200));
        expect(rs[0]!.text()).toBe("done after 100 ms\n");
      });
    });

    it('maxConnections "wait": a client over the limit waits, and is served once a slot frees', async () => {
      const a = await connectWatched(ports.wait!);
      const b = await connectWatched(ports.wait!);
      const c = await connectWatched(ports.wait!);
      try {
        for (const x of [a, b]) {
          await x.client.write(req("GET", "/hello"));
          expect((await x.client.readResponse()).status).toBe(200);
        }
        // a and b stay open (keep-alive): c has to wait
        await c.client.write(req("GET", "/hello"));
        await c.client.expectQuiet(400);
        expect(c.client.peerEnded).toBe(false);
        const freed = performance.now();
        a.client.destroy();
        const r = await c.client.readResponse({ timeoutMs: 2000 });
        expect(r.status).toBe(200);
        expect(r.text()).toBe("hello\n");
        expect(performance.now() - freed).toBeLessThan(1000);
        expect(c.errors).toEqual([]);
      } finally {
        for (const x of [a, b, c]) x.client.destroy();
      }
    });

    it('maxConnections "reject": a client over the limit gets 503 at once, then the connection closes', async () => {
      const a = await connectWatched(ports.reject!);
      const b = await connectWatched(ports.reject!);
      try {
        for (const x of [a, b]) {
          await x.client.write(req("GET", "/hello"));
          expect((await x.client.readResponse()).status).toBe(200);
        }
        await withClient(ports.reject!, async (c) => {
          const t0 = performance.now();
          await c.client.write(req("GET", "/hello"));
          await statusThenClose(c, 503);
          expect(performance.now() - t0).toBeLessThan(500);
        });
        a.client.destroy();
        await sleep(100);
        await withClient(ports.reject!, async (c) => {
          await c.client.write(req("GET", "/hello"));
          expect((await c.client.readResponse()).status).toBe(200);
        });
      } finally {
        a.client.destroy();
        b.client.destroy();
      }
    });
  });

  describe("timeouts", () => {
    it("headers: a connection that sends nothing is closed at the header deadline, without a response", async () => {
      await withClient(ports.timeouts!, async (c) => {
        const t0 = performance.now();
        expect(await c.client.waitForServerClose(TIMEOUT_MS + 2 * SWEEP_MS + SLACK_MS + 1000)).toBe(true);
        const elapsed = performance.now() - t0;
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(elapsed).toBeLessThan(TIMEOUT_MS + 2 * SWEEP_MS + SLACK_MS);
        expect(c.client.buffered.length).toBe(0);
      });
    });

    it("headers: a head still incomplete at the deadline gets 408 even though bytes keep arriving", async () => {
      await withClient(ports.timeouts!, async (c) => {
        const t0 = performance.now();
        const head = req("GET", "/hello", { "x-trickle": "t".repeat(100) });
        let i = 0;
        const timer = setInterval(() => {
          if (!c.client.peerEnded && i < head.length - 2) void c.client.write(head[i++]!).catch(() => {});
        }, 50);
        try {
          // One line saying what went wrong, like the 408 of a body that stalls.
          expect((await statusThenClose(c, 408)).text()).toBe("request head timed out\n");
        } finally {
          clearInterval(timer);
        }
        const elapsed = performance.now() - t0;
        expect(i).toBeGreaterThan(5); // it was active all along
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(elapsed).toBeLessThan(TIMEOUT_MS + SWEEP_MS + SLACK_MS);
      });
    });

    it("body: a body that sits idle past the deadline fails the request, then the connection closes", async () => {
      const id = uniqueId("idle-body");
      await withClient(ports.timeouts!, async (c) => {
        const t0 = performance.now();
        await c.client.write(req("POST", `/read?id=${id}`, { "content-length": "100" }) + "0123456789");
        const r = await c.client.readResponse({ timeoutMs: 5000 });
        const elapsed = performance.now() - t0;
        expect([400, 408]).toContain(r.status);
        expect(r.header("connection")).toMatch(/close/i);
        expect(await c.client.waitForServerClose(2000)).toBe(true);
        expect(c.errors).toEqual([]);
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(elapsed).toBeLessThan(TIMEOUT_MS + 2 * SWEEP_MS + SLACK_MS);
      });
      const rec = await fx.state<{ bytes: number | null; error: string | null }>(id);
      expect(rec?.bytes).toBeNull();
      expect(rec?.error).toBeTruthy();
    });

    it("body: a slow body that keeps moving is not cut (the deadline is for idleness)", async () => {
      await withClient(ports.timeouts!, async (c) => {
        await c.client.write(req("POST", "/read", { "content-length": "80" }));
        for (let k = 0; k < 8; k++) {
          await sleep(TIMEOUT_MS / 3);
          await c.client.write("x".repeat(10));
        }
        const r = await c.client.readResponse();
        expect(r.status).toBe(200);
        expect(JSON.parse(r.text())).toEqual({ bytes: 80 });
      });
    });

    it("keepAlive: an idle keep-alive connection is closed at the deadline; one in use is not", async () => {
      await withClient(ports.timeouts!, async (c) => {
        for (let k = 0; k < 4; k++) {
          await c.client.write(req("GET", "/hello"));
          expect((await c.client.readResponse()).status).toBe(200);
          await sleep(TIMEOUT_MS / 2);
        }
        expect(c.client.peerEnded).toBe(false);
        await c.client.write(req("GET", "/hello"));
        expect((await c.client.readResponse()).status).toBe(200);
        const t0 = performance.now();
        expect(await c.client.waitForServerClose(TIMEOUT_MS + 2 * SWEEP_MS + SLACK_MS + 1000)).toBe(true);
        const elapsed = performance.now() - t0;
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(elapsed).toBeLessThan(TIMEOUT_MS + 2 * SWEEP_MS + SLACK_MS);
        expect(c.client.buffered.length).toBe(0);
        expect(c.errors).toEqual([]);
      });
    });

    it("send: a client that stops reading is cut at the send deadline and the response is abandoned", async () => {
      const id = uniqueId("send");
      const total = 64 * 1024 * 1024;
      await withClient(ports.timeouts!, async (c) => {
        c.client.socket.pause();
        await c.client.write(req("GET", `/big?bytes=${total}&id=${id}`));
        const rec = await eventually(
          () => fx.state<{ sent: number; cancelledAt: number | null }>(id),
          (r) => r?.cancelledAt != null,
          TIMEOUT_MS + SWEEP_MS + SLACK_MS + 3000,
        );
        expect(rec?.cancelledAt).not.toBeNull();
        expect(rec!.sent).toBeLessThan(total);
        expect(await usageBack("timeouts")).toEqual(baseline);
        // reading again: the bytes that were already on their way, then the end
        c.client.socket.resume();
        expect(await c.client.waitForServerClose(5000)).toBe(true);
        const received = c.client.buffered.length;
        expect(received).toBeGreaterThan(0);
        expect(received).toBeLessThan(total);
      });
    });
  });

  describe("slowloris", () => {
    it("200 clients sending one header byte every 500 ms do not delay a normal client, and are cut at the header deadline", async () => {
      const port = ports.slowloris!;
      const HEADERS_MS = 2000;
      const head = req("GET", "/hello", { "user-agent": "slowloris".repeat(20) });
      const slow = await Promise.all(Array.from({ length: 200 }, () => connectWatched(port)));
      const t0 = performance.now();
      let sent = 1;
      for (const s of slow) void s.client.write(head[0]!);
      const trickle = setInterval(() => {
        for (const s of slow) if (!s.client.peerEnded) void s.client.write(head[sent]!).catch(() => {});
        sent++;
      }, 500);
      const probes: number[] = [];
      try {
        // a normal client, again and again while the crowd trickles
        while (performance.now() - t0 < HEADERS_MS - 250) {
          const p0 = performance.now();
          const c = await RawClient.connect(port);
          try {
            await c.write(req("GET", "/hello"));
            const r = await c.readResponse({ timeoutMs: 2000 });
            expect(r.status).toBe(200);
          } finally {
            c.destroy();
          }
          probes.push(performance.now() - p0);
          await sleep(100);
        }
        expect(probes.length).toBeGreaterThanOrEqual(8);
        expect(Math.max(...probes)).toBeLessThan(100);

        // every slow client is cut at the deadline, with a 408
        expect(await within(Promise.all(slow.map((s) => s.client.closed)), HEADERS_MS + 3000)).toBe(true);
        const cutAt = slow.map((s) => s.closedAt()! - t0);
        expect(Math.min(...cutAt)).toBeGreaterThanOrEqual(HEADERS_MS - 100);
        expect(Math.max(...cutAt)).toBeLessThan(HEADERS_MS + 500 + SLACK_MS + 200);
        for (const s of slow) {
          const r = await s.client.readResponse({ timeoutMs: 100 });
          expect(r.status).toBe(408);
        }
        expect(sent).toBeLessThanOrEqual(7); // each sent a handful of bytes, nowhere near a full head
      } finally {
        clearInterval(trickle);
        for (const s of slow) s.client.destroy();
      }
      expect(await usageBack("slowloris")).toEqual(baseline);
    });
  });
});
