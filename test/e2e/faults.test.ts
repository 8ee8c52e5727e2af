/**
 * The server-side fault matrix of issue 12 (and 18.3, 18.7), the same under
 * node, deno and bun over real sockets.
 *
 * Each fault is followed by the same three checks: the server process is
 * alive, a normal request on a new connection is answered, and its
 * descriptors (`/proc/<pid>/fd`) are back at their baseline. The shutdown
 * cases check that `server.shutdown()` resolves within `timeouts.shutdown`.
 *
 * One fixture process per runtime (test/fixtures/groups.mjs) runs the app
 * servers, started through its control server.
 */
import { createHash } from "node:crypto";
import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RawClient, req } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime } from "../helpers/runtime.ts";
import { eventually, sleep, uniqueId } from "../helpers/util.ts";
import { connectWatched, fdsOf, type GroupsFixture, startGroupsFixture, waitForBytes } from "../helpers/groups.ts";

const MiB = 1024 * 1024;
// A 5 MiB JSON document: valid for json(), and the same bytes back from
// JSON.stringify, so that one hash checks all three readers.
const BIG_JSON = Buffer.from(JSON.stringify({ s: "x".repeat(5 * MiB - 8) }), "latin1");
const BIG_SHA = createHash("sha256").update(BIG_JSON).digest("hex");

interface Shutdown {
  shutdownMs: number;
  finished: boolean;
  /** Ids of /never requests whose signal had aborted when shutdown() resolved. */
  aborted: string[];
}

interface NeverRecord {
  signalReason: { name: string | null; isDOMException: boolean; causeCode: string | null } | null;
  groupReason: { name: string | null; message: string } | null;
}

interface ReadRecord {
  bytes: number | null;
  error: string | null;
  signalReason: { name: string | null; isDOMException: boolean; hasCause: boolean } | null;
}

function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const piece = body.subarray(i, i + size);
    parts.push(Buffer.from(piece.length.toString(16) + "\r\n", "latin1"), piece, Buffer.from("\r\n"));
  }
  parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}

/**
 * GET `target` with `headers`, read at about `rate` bytes a second (paused
 * between reads), until the server closes or the body is complete. A
 * client on a slow link, as curl --limit-rate is.
 */
function slowDownload(
  port: number,
  target: string,
  rate: number,
  headers = "",
): Promise<{ status: number; length: number; received: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`));
    let head: string | null = null;
    let pending = Buffer.alloc(0);
    let received = 0;
    let length = -1; // none: chunked, complete at its last chunk
    let status = 0;
    let tail = "";
    const done = () => {
      s.destroy();
      resolve({ status, length, received });
    };
    s.on("data", (chunk: Buffer) => {
      if (head === null) {
        pending = Buffer.concat([pending, chunk]);
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        head = pending.subarray(0, end).toString("latin1");
        status = Number(head.slice(9, 12));
        length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? -1);
        received = pending.length - end - 4;
      } else received += chunk.length;
      tail = (tail + chunk.toString("latin1")).slice(-7);
      if (length >= 0 ? received >= length : tail === "\r\n0\r\n\r\n") return done();
      s.pause();
      setTimeout(() => s.resume(), (chunk.length / rate) * 1000);
    });
    s.on("close", done);
    s.on("error", reject);
  });
}

describe.each(RUNTIMES)("faults on %s", (runtime: Runtime) => {
  let fx: GroupsFixture;
  /** Descriptors that are not sockets (files, pipes, event fds), once the server is warm. */
  let baselineOther: number;

  beforeAll(async () => {
    fx = await startGroupsFixture(runtime);
    // one request first, so that lazily opened descriptors are in the baseline
    const c = await RawClient.connect(fx.port);
    await c.write(req("GET", "/hello"));
    await c.readResponse();
    c.destroy();
    await sleep(200);
    baselineOther = fdsOf(fx.pid, fx.port).other;
  });
  afterAll(async () => {
    await fx?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => fx?.process));

  /** The process lives, a new connection is answered, and the descriptors are back at the baseline. */
  async function healthy(port = fx.port, checkFds = true): Promise<void> {
    expect(() => process.kill(fx.pid, 0)).not.toThrow();
    const c = await RawClient.connect(port);
    try {
      await c.write(req("GET", "/hello", { connection: "close" }));
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(r.text()).toBe("hello\n");
      expect(await c.waitForServerClose(2000)).toBe(true);
    } finally {
      c.destroy();
    }
    if (checkFds) await fdsAtBaseline(port);
  }

  /** Only the listener is left on `port` (none once it was shut down), and no other descriptor is left open. */
  async function fdsAtBaseline(port: number, listening = true): Promise<void> {
    const want = listening ? 1 : 0;
    const fds = await eventually(() => fdsOf(fx.pid, port), (f) => f.onPort === want && f.other <= baselineOther, 3000);
    expect(fds.onPort).toBe(want);
    expect(fds.other).toBeLessThanOrEqual(baselineOther);
  }

  async function get(port: number, target: string, headers: Record<string, string> = {}) {
    const c = await connectWatched(port);
    await c.client.write(req("GET", target, headers));
    return c;
  }

  it("a handler that throws at once or after an await: 500, and the connection stays usable", async () => {
    for (const how of ["sync", "async"]) {
      const c = await get(fx.port, `/throw?how=${how}`);
      const r = await c.client.readResponse();
      expect(r.status, how).toBe(500);
      await c.client.write(req("GET", "/hello"));
      expect((await c.client.readResponse()).status, how).toBe(200);
      c.client.destroy();
    }
    await healthy();
  });

  it("an onError that throws: a plain 500 all the same", async () => {
    const port = await fx.startApp(uniqueId("onerror"), { onErrorThrows: true });
    const c = await get(port, "/throw?how=async");
    const r = await c.client.readResponse();
    expect(r.status).toBe(500);
    expect(r.text()).toBe("Internal Server Error");
    c.client.destroy();
    await healthy(port);
    expect(fx.process.stderr()).toContain("onError failed too");
  });

  it("a body stream that errors after the head: the connection closes without a clean chunked end", async () => {
    const c = await get(fx.port, "/stream-error");
    expect(await c.client.waitForServerClose(3000)).toBe(true);
    const wire = c.client.buffered.toString("latin1");
    expect(wire).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(wire).toMatch(/transfer-encoding: chunked\r\n/i);
    expect(wire).toContain("first chunk\n");
    expect(wire).not.toMatch(/\r\n0\r\n\r\n$/);
    c.client.destroy();
    await healthy();
  });

  it("a rejected group.spawn task and a throwing defer finaliser are reported, and nothing else happens", async () => {
    for (const [target, text] of [["/spawn-reject", "spawned\n"], ["/defer-throw", "deferred\n"]]) {
      const c = await get(fx.port, target!);
      const r = await c.client.readResponse();
      expect(r.status).toBe(200);
      expect(r.text()).toBe(text);
      c.client.destroy();
    }
    await eventually(() => fx.process.stderr(), (s) => s.includes("finaliser failed"), 2000);
    expect(fx.process.stderr()).toContain("finaliser failed");
    await healthy();
  });

  describe("5 MiB bodies read whole (limits.connectionBytes is 1 MiB)", () => {
    for (const as of ["arrayBuffer", "text", "json"]) {
      for (const framing of ["content-length", "chunked"]) {
        it(`${as}() with ${framing}`, async () => {
          const c = await connectWatched(fx.port);
          const headers: Record<string, string> = framing === "chunked"
            ? { "transfer-encoding": "chunked" }
            : { "content-length": String(BIG_JSON.length) };
          const body = framing === "chunked" ? chunked(BIG_JSON, 100_000) : BIG_JSON;
          const head = req("POST", `/read?as=${as}&id=${uniqueId("big")}`, { "content-type": "application/json", ...headers });
          const written = c.client.write(Buffer.concat([Buffer.from(head, "latin1"), body]));
          const r = await c.client.readResponse({ timeoutMs: 20_000 });
          await written;
          expect(r.status).toBe(200);
          expect(JSON.parse(r.text())).toEqual({ bytes: BIG_JSON.length, sha256: BIG_SHA });
          // the connection is still usable
          await c.client.write(req("GET", "/hello"));
          expect((await c.client.readResponse()).status).toBe(200);
          expect(c.errors).toEqual([]);
          c.client.destroy();
        }, 30_000);
      }
    }

    it("over maxBodyBytes, read with arrayBuffer(): 413", async () => {
      const port = await fx.startApp(uniqueId("maxbody"), { limits: { maxBodyBytes: 2 * MiB } });
      const c = await connectWatched(port);
      const head = req("POST", "/read", { "transfer-encoding": "chunked" });
      void c.client.write(Buffer.concat([Buffer.from(head, "latin1"), chunked(BIG_JSON, 100_000)])).catch(() => {});
      const r = await c.client.readResponse({ timeoutMs: 10_000 });
      expect(r.status).toBe(413);
      expect(r.header("connection")).toMatch(/close/i);
      c.client.destroy();
      await healthy(port);
    });
  });

  it("a client that resets mid-body: AbortError with the socket error as cause, no error logged", async () => {
    const before = fx.process.stderr().length;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = uniqueId("reset-body");
      ids.push(id);
      const c = await RawClient.connect(fx.port);
      await c.write(req("POST", `/read?id=${id}`, { "content-length": String(5 * MiB) }) + "x".repeat(100_000));
      await eventually(() => fx.state<ReadRecord>(id), (r) => r !== null, 2000);
      c.reset();
    }
    for (const id of ids) {
      const rec = await eventually(() => fx.state<ReadRecord>(id), (r) => r?.signalReason != null, 3000);
      expect(rec?.signalReason).toEqual({ name: "AbortError", isDOMException: true, hasCause: true });
      expect(rec?.bytes).toBeNull();
    }
    await healthy();
    const logged = fx.process.stderr().slice(before);
    expect(logged).not.toContain("handler error");
    expect(logged).not.toContain("response body failed");
  });

  it("a client that closes (FIN) mid-body: AbortError too", async () => {
    const id = uniqueId("fin-body");
    const c = await RawClient.connect(fx.port);
    await c.write(req("POST", `/read?id=${id}`, { "content-length": String(MiB) }) + "x".repeat(1000));
    await eventually(() => fx.state<ReadRecord>(id), (r) => r !== null, 2000);
    c.destroy();
    const rec = await eventually(() => fx.state<ReadRecord>(id), (r) => r?.signalReason != null, 3000);
    expect(rec?.signalReason?.name).toBe("AbortError");
    expect(rec?.signalReason?.isDOMException).toBe(true);
    await healthy();
  });

  it("a client that resets mid-response: the stream is cancelled, nothing is logged", async () => {
    const before = fx.process.stderr().length;
    for (let i = 0; i < 5; i++) {
      // (A stream that is always ready, reset mid-way, is the adapters' case of issue 18.2.)
      const id = uniqueId("reset-response");
      const c = await RawClient.connect(fx.port);
      await c.write(req("GET", `/resources?id=${id}&mode=stream`));
      expect(await waitForBytes(c, "tick 1\n")).toBe(true);
      c.reset();
      const rec = await eventually(
        () => fx.state<{ streamCancelledAt: number | null; finaliserRanAt: number | null }>(id),
        (r) => r?.streamCancelledAt != null && r.finaliserRanAt != null,
        3000,
      );
      expect(rec?.streamCancelledAt).not.toBeNull();
      expect(rec?.finaliserRanAt).not.toBeNull();
    }
    await healthy();
    const logged = fx.process.stderr().slice(before);
    expect(logged).not.toContain("handler error");
    expect(logged).not.toContain("response body failed");
  });

  it.each(["FIN", "close"] as const)(
    "a streamed body is cancelled as soon as its client goes away (%s), not at the next chunk",
    async (how) => {
      // As Deno's and Bun's servers do: a quiet stream (SSE) whose cleanup is in
      // cancel() leaked until two more chunks had failed to go out.
      const id = uniqueId("sse");
      const c = await get(fx.port, `/stream?id=${id}&ms=60000&every=3000`);
      expect(await waitForBytes(c.client, "chunk 0\n")).toBe(true);
      await sleep(100);
      if (how === "FIN") c.client.end();
      else c.client.destroy();
      type Rec = { abortedAt: number | null; cancelledAt: number | null; cancelReason: string | null };
      const rec = await eventually(() => fx.state<Rec>(id), (r) => r?.cancelledAt != null, 2000);
      expect(rec?.cancelReason).toBe("AbortError");
      expect(rec!.cancelledAt! - rec!.abortedAt!).toBeLessThan(500); // the next chunk is 3 s away
      // The response was cut, not ended as if complete: no last chunk.
      expect(c.client.buffered.toString("latin1")).not.toContain("\r\n0\r\n\r\n");
      c.client.destroy();
      await healthy();
    },
  );

  // The FIN came with the request (a script's shutdown(SHUT_WR), `nc -N`),
  // before the handler's stream was taken up: the body went out whole, where a
  // FIN a moment later cut it. On Deno, whose next read can bring the FIN at
  // once, that was a race even for a handler that answers at once.
  it("a streamed body whose client sent FIN before the response began is cut too", async () => {
    const id = uniqueId("fin-first");
    const c = await connectWatched(fx.port);
    await c.client.write(req("GET", `/stream?id=${id}&ms=500&every=100&delay=150`));
    c.client.end();
    type Rec = { abortedAt: number | null; cancelledAt: number | null; cancelReason: string | null };
    const rec = await eventually(() => fx.state<Rec>(id), (r) => r?.cancelledAt != null, 2000);
    expect(rec?.cancelReason).toBe("AbortError");
    await Promise.race([c.client.closed, sleep(2000)]);
    expect(c.client.isClosed).toBe(true);
    const got = c.client.buffered.toString("latin1");
    expect(got).toMatch(/^HTTP\/1\.1 200/);
    expect(got).not.toContain("chunk 4");
    expect(got).not.toContain("\r\n0\r\n\r\n");
    await healthy();
  });

  // A whole body (bytes or a string) is handed to the socket at once; the
  // keep-alive deadline and, for a closing connection, the 2 s linger began
  // then, not once the client had it, and cut a slow client's download short
  // (curl --limit-rate 1M, a 20 MiB body: 8–16 MB arrived, behind HAProxy,
  // Apache and Caddy too). node:http and Deno.serve send it all.
  describe("a large whole body to a slow client arrives whole", () => {
    const MB = 1 << 20;
    const n = 16 * MB;
    const rate = 3 * MB; // slow enough that the kernel's buffers cannot hold what the deadlines left
    let port: number;
    beforeAll(async () => {
      port = await fx.startApp(uniqueId("slow-reader"), { timeouts: { keepAlive: 300, send: 1500 } });
    });
    it.each([
      ["bytes, kept alive", `/bytes?n=${n}`, ""],
      ["bytes, Connection: close", `/bytes?n=${n}`, "Connection: close\r\n"],
      // One chunk of a stream: the pump wrote it in one piece, bounded by the send deadline as a whole.
      ["a stream's one chunk, with a Content-Length", `/bytes?n=${n}&as=stream&length`, ""],
    ])("%s (past the keep-alive and send timeouts)", async (_what, target, headers) => {
      const r = await slowDownload(port, target, rate, headers);
      expect([r.status, r.length, r.received]).toEqual([200, n, n]);
    }, 20_000);

    it("a stream's one chunk, chunked (past the keep-alive and send timeouts)", async () => {
      const r = await slowDownload(port, `/bytes?n=${n}&as=stream`, rate);
      expect(r.status).toBe(200);
      expect(r.length).toBe(-1);
      expect(r.received).toBe(n + n.toString(16).length + 2 + 2 + 5); // size line, CRLF, last chunk
    }, 20_000);

    // The linger waits for the response to leave (onDrain); Node's Writable
    // emits no "drain" once end() was called, so on node a closing
    // connection waited for its send deadline instead of lingering 2 s.
    it("a closing connection whose response filled the socket's buffer lingers 2 s, not until the send deadline", async () => {
      const p = await fx.startApp(uniqueId("linger-after-drain"), { timeouts: { send: 60_000 } });
      const c = await connectWatched(p);
      await c.client.write(req("GET", `/bytes?n=${512 << 10}`, { connection: "close" }));
      expect((await c.client.readResponse()).status).toBe(200);
      // The client keeps its end open, as a pooled client might.
      const fds = await eventually(() => fdsOf(fx.pid, p), (f) => f.onPort === 1, 5000);
      expect(fds.onPort).toBe(1); // the listener only
      c.client.destroy();
    }, 15_000);

    it("during a graceful shutdown", async () => {
      const name = uniqueId("slow-shutdown");
      const p = await fx.startApp(name, { timeouts: { shutdown: 15_000 } });
      const download = slowDownload(p, `/bytes?n=${n}`, rate);
      await sleep(500);
      const stopped = fx.control<Shutdown>(`/shutdown?name=${name}&mode=graceful-wait`, { method: "POST" });
      const r = await download;
      expect([r.status, r.length, r.received]).toEqual([200, n, n]);
      expect((await stopped).finished).toBe(true);
    }, 20_000);
  });

  // A handler that answers an upload without reading it (an auth check, a
  // 413): the connection closes, reading and dropping the rest. Apache sends
  // the whole body before it reads the answer; after 2 s portico's reset
  // destroyed the unread 401 and Apache answered 502 (node:http, Deno.serve
  // and Bun.serve: the 401). As nginx's lingering close does, the reading
  // now goes on while input keeps coming (2 s of silence ends it, 30 s in all).
  it("an upload answered without being read: a client that reads only after sending gets the answer", async () => {
    const total = 4 << 20;
    const piece = Buffer.alloc(64 << 10, 0x62);
    const s = net.connect(fx.port, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    s.pause(); // reads nothing until the body is sent, as Apache's proxy does
    let error: string | null = null;
    s.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    s.write(`POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
    for (let sent = 0; sent < total && error === null; sent += piece.length) {
      s.write(piece);
      await sleep(50); // about 1.3 MB/s: 3 s for the body
    }
    let got = "";
    s.on("data", (d: Buffer) => (got += d.toString("latin1")));
    s.resume();
    await Promise.race([new Promise((r) => s.once("close", r)), sleep(3000)]);
    s.destroy();
    expect(error).toBeNull();
    expect(got).toMatch(/^HTTP\/1\.1 200 /);
    expect(got).toContain("connection: close");
    await healthy();
  }, 15_000);

  it("a closing connection whose client keeps sending does not hold up a graceful shutdown", async () => {
    const name = uniqueId("linger-shutdown");
    const p = await fx.startApp(name, {});
    const s = net.connect(p, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    s.on("error", () => {});
    s.write(`POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: ${64 << 20}\r\n\r\n`);
    let sending = true;
    void (async () => {
      while (sending && !s.destroyed) {
        s.write(Buffer.alloc(16 << 10));
        await sleep(50);
      }
    })();
    await sleep(1000); // answered, closing, lingering while the body keeps coming
    const stopped = await fx.control<Shutdown>(`/shutdown?name=${name}&mode=graceful-wait`, { method: "POST" });
    sending = false;
    s.destroy();
    expect(stopped.finished).toBe(true);
    expect(stopped.shutdownMs).toBeLessThan(4000); // the 2 s linger, not its 30 s bound
  }, 20_000);

  describe("handlers that never settle", () => {
    it("client gone: the signal aborts with an AbortError and shutdown() resolves at once", async () => {
      const name = uniqueId("never-gone");
      const port = await fx.startApp(name, { timeouts: { shutdown: 10_000 } });
      const id = uniqueId("never");
      const c = await get(port, `/never?id=${id}`);
      await eventually(() => fx.state<NeverRecord>(id), (r) => r !== null, 2000);
      c.client.destroy();
      const rec = await eventually(() => fx.state<NeverRecord>(id), (r) => r?.signalReason != null, 2000);
      expect(rec?.signalReason?.name).toBe("AbortError");
      expect(rec?.signalReason?.isDOMException).toBe(true);
      // The half-open socket would wait for the send timeout (30 s) in case
      // the handler still answers; a graceful shutdown does not wait for it.
      const s = await fx.control<Shutdown>(`/shutdown?name=${name}&mode=graceful-wait`, { method: "POST" });
      expect(s.shutdownMs).toBeLessThan(2000);
      expect(s.finished).toBe(true);
      expect((await fx.state<NeverRecord>(id))?.groupReason).not.toBeNull();
      await fdsAtBaseline(port, false);
      await healthy();
    });

    it("client still there: after timeouts.shutdown the connection is closed and shutdown() resolves", async () => {
      const name = uniqueId("never-there");
      const port = await fx.startApp(name, { timeouts: { shutdown: 1000 } });
      const id = uniqueId("never");
      const c = await get(port, `/never?id=${id}`);
      await eventually(() => fx.state<NeverRecord>(id), (r) => r !== null, 2000);
      await healthy(port, false); // the hanging connection is still open
      const s = await fx.control<Shutdown>(`/shutdown?name=${name}&mode=graceful-wait`, { method: "POST" });
      expect(s.shutdownMs).toBeGreaterThanOrEqual(900);
      expect(s.shutdownMs).toBeLessThan(2500);
      expect(s.finished).toBe(true);
      // The handler's signal aborted before shutdown() resolved (on Node it
      // waited for the socket's close event, after `shutdown().then(exit)`).
      expect(s.aborted).toContain(id);
      expect(await c.client.waitForServerClose(1000)).toBe(true);
      expect((await fx.state<NeverRecord>(id))?.groupReason).not.toBeNull();
      c.client.destroy();
      await fdsAtBaseline(port, false);
    });

    it("timeouts.handler: 503, the request group shuts down, the connection closes", async () => {
      const name = uniqueId("deadline");
      const port = await fx.startApp(name, { timeouts: { handler: 500 } });
      const id = uniqueId("never");
      const t0 = performance.now();
      const c = await get(port, `/never?id=${id}`);
      const r = await c.client.readResponse({ timeoutMs: 3000 });
      const took = performance.now() - t0;
      expect(r.status).toBe(503);
      expect(r.header("connection")).toMatch(/close/i);
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(1500);
      expect(await c.client.waitForServerClose(2000)).toBe(true);
      expect(c.errors).toEqual([]);
      const rec = await eventually(() => fx.state<NeverRecord>(id), (x) => x?.groupReason != null, 2000);
      expect(rec?.signalReason?.name).toBe("TimeoutError");
      expect(rec?.groupReason).not.toBeNull();
      // a handler that answers in time is not affected
      await healthy(port);
      const s = await fx.control<Shutdown>(`/shutdown?name=${name}&mode=graceful-wait`, { method: "POST" });
      expect(s.shutdownMs).toBeLessThan(1000);
    });

    it("a spawned task that ignores its signal cannot hold shutdown() past its bound", async () => {
      const name = uniqueId("spawn-hang");
      const port = await fx.startApp(name, { timeouts: { shutdown: 1000 } });
      const c = await get(port, "/spawn-hang");
      expect((await c.client.readResponse()).status).toBe(200);
      c.client.destroy();
      const s = await fx.control<Shutdown>(`/shutdown?name=${name}&mode=graceful-wait`, { method: "POST" });
      expect(s.shutdownMs).toBeLessThan(2500);
      expect(s.finished).toBe(true);
      await healthy();
    });
  });

  it("a Host that cannot form a URL gets 400; request.url is always a valid URL", async () => {
    for (const host of ["a:99999", "a:65536", "xn--a", "xn--"]) {
      const c = await get(fx.port, "/hello", { host });
      const r = await c.client.readResponse();
      expect(r.status, host).toBe(400);
      c.client.destroy();
    }
    const abs = await connectWatched(fx.port);
    await abs.client.write("GET http://a:99999/hello HTTP/1.1\r\nhost: a:99999\r\n\r\n");
    expect((await abs.client.readResponse()).status).toBe(400);
    abs.client.destroy();
    for (const host of ["a:65535", "a", "xn--bcher-kva.example", "127.0.0.1:8080", "a_b.c"]) {
      const c = await get(fx.port, "/hello", { host });
      const r = await c.client.readResponse();
      expect(r.status, host).toBe(200);
      c.client.destroy();
    }
    await healthy();
  });
});
