/**
 * Shutdown end to end (issue 3), the same under node, deno and bun.
 *
 * Immediate (`server.group.shutdown()`): within 100 ms the listener, every
 * connection and everything handlers adopted are closed and `finished`
 * settles; the port can be bound again at once, 20 times in a row.
 *
 * Graceful (`server.shutdown()` and the `signal` option): a 5 s streamed
 * response finishes, a response whose head was not sent yet carries
 * `Connection: close`, idle keep-alive connections close at once, and
 * `finished` settles after. Neither mode resets a client whose request was
 * being answered.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RawClient, req } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime } from "../helpers/runtime.ts";
import { eventually, sleep, uniqueId } from "../helpers/util.ts";
import {
  connectWatched,
  fdsOpenOn,
  type GroupsFixture,
  type ResourceRecord,
  startGroupsFixture,
  tryConnect,
  waitForBytes,
  within,
} from "../helpers/groups.ts";

interface Finished {
  finished: boolean;
  finishedAt: number | null;
  shutdownAt: number | null;
}

describe.each(RUNTIMES)("shutdown on %s", (runtime: Runtime) => {
  let fx: GroupsFixture;

  beforeAll(async () => {
    fx = await startGroupsFixture(runtime);
  });
  afterAll(async () => {
    await fx?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => fx?.process));

  const record = async (id: string) => (await fx.state<ResourceRecord>(id))!;
  const finished = (name: string) => fx.control<Finished>(`/finished?name=${encodeURIComponent(name)}`);

  describe("immediate: server.group.shutdown()", () => {
    it("closes the listener, every connection and every adopted resource within 100 ms, and settles finished", async () => {
      const name = uniqueId("immediate");
      const port = await fx.startApp(name, {});
      const ids = { hang: uniqueId("imm-hang"), stream: uniqueId("imm-stream") };

      const idle = await connectWatched(port);
      await idle.client.write(req("GET", "/hello"));
      expect((await idle.client.readResponse()).status).toBe(200);
      const hang = await connectWatched(port);
      await hang.client.write(req("GET", `/resources?id=${ids.hang}&mode=hang`));
      const stream = await connectWatched(port);
      await stream.client.write(req("GET", `/resources?id=${ids.stream}&mode=stream`));
      const partial = await connectWatched(port);
      await partial.client.write("GET /hello HTTP/1.1\r\nho");
      const silent = await connectWatched(port);
      const clients = { idle, hang, stream, partial, silent };

      expect(await waitForBytes(stream.client, "tick 1\n")).toBe(true);
      for (const id of Object.values(ids)) {
        const rec = await eventually(() => fx.state<ResourceRecord>(id), (r) => r?.opened === true, 3000);
        expect(fdsOpenOn(fx.pid, rec!.file)).toBe(1);
      }
      expect((await fx.usage(name)).groups).toBeGreaterThanOrEqual(1 + 5 + 2);

      const t0 = performance.now();
      const r = await fx.control<{ finishedAfterMs: number }>(`/shutdown?name=${name}&mode=immediate`, { method: "POST" });
      expect(r.finishedAfterMs).toBeLessThan(100);
      expect(await within(Promise.all(Object.values(clients).map((c) => c.client.closed)), 1000)).toBe(true);
      const closedAfter = Object.fromEntries(
        Object.entries(clients).map(([k, c]) => [k, Math.round(c.closedAt()! - t0)]),
      );
      expect(Object.entries(closedAfter).filter(([, ms]) => !(ms < 100))).toEqual([]);

      // the listener is gone
      expect(await tryConnect(port)).toBe("ECONNREFUSED");
      // everything the handlers adopted was closed
      for (const id of Object.values(ids)) {
        const rec = await record(id);
        expect(rec.groupAbortedAt).not.toBeNull();
        expect(rec.finaliserRanAt).not.toBeNull();
        expect(fdsOpenOn(fx.pid, rec.file)).toBe(0);
        const a = rec.ticks;
        await sleep(100);
        expect((await record(id)).ticks).toBe(a);
      }
      expect((await fx.usage(name)).groups).toBe(1);
      // no reset for the clients whose requests were being answered
      expect({ hang: hang.errors, stream: stream.errors }).toEqual({ hang: [], stream: [] });
      expect((await finished(name)).finished).toBe(true);
    });

    it("serves, stops and serves again on the same port, 20 times in a row", async () => {
      const name = uniqueId("cycle");
      const port = await fx.startApp(name, {});
      const left: RawClient[] = [];
      try {
        for (let round = 0; round < 20; round++) {
          // a keep-alive connection left open, so that the server closes it
          // (and its side of the port has connections in TIME_WAIT)
          const c = await RawClient.connect(port);
          left.push(c);
          await c.write(req("GET", "/hello"));
          const r = await c.readResponse();
          expect(r.status, `round ${round}`).toBe(200);
          const stop = await fx.control<{ finishedAfterMs: number }>(`/shutdown?name=${name}&mode=immediate`, { method: "POST" });
          expect(stop.finishedAfterMs, `round ${round}`).toBeLessThan(100);
          expect(await c.waitForServerClose(1000), `round ${round}`).toBe(true);
          expect(await fx.startApp(name, { port }), `round ${round}`).toBe(port);
        }
        const c = await RawClient.connect(port);
        left.push(c);
        await c.write(req("GET", "/hello"));
        expect((await c.readResponse()).text()).toBe("hello\n");
      } finally {
        for (const c of left) c.destroy();
        await fx.control(`/shutdown?name=${name}&mode=immediate`, { method: "POST" }).catch(() => {});
      }
    });
  });

  it.each([["before", "after"]].flat())(
    "a client that half-closed (FIN) during a streamed response holds no graceful shutdown up (FIN %s it began)",
    async (when) => {
      const name = uniqueId("fin-stream");
      const port = await fx.startApp(name, { timeouts: { shutdown: 8000 } });
      const c = await connectWatched(port);
      try {
        await c.client.write(req("GET", "/stream?ms=20000&every=100"));
        expect(await waitForBytes(c.client, "chunk 1\n")).toBe(true);
        if (when === "before") c.client.end();
        await sleep(50);
        const t0 = performance.now();
        const stopped = fx.control<{ shutdownMs: number }>(`/shutdown?name=${name}&mode=graceful-wait`, {
          method: "POST",
        });
        if (when === "after") {
          await sleep(200);
          c.client.end();
        }
        const s = await stopped;
        expect(s.shutdownMs).toBeLessThan(2000); // not the 8 s bound
        expect(performance.now() - t0).toBeLessThan(3000);
        expect(await within(c.client.closed, 2000)).toBe(true);
      } finally {
        c.client.destroy();
      }
    },
  );

  it.each([["Infinity"], [2 ** 31]])("timeouts.shutdown %s (no bound) waits for the request in flight", async (ms) => {
    // Past what a timer can wait, runtimes fire at once: the shutdown was immediate, the response lost.
    const name = uniqueId("unbounded");
    const port = await fx.startApp(name, { timeouts: { shutdown: ms } });
    const busy = await connectWatched(port);
    try {
      await busy.client.write(req("GET", "/delay?ms=600"));
      await sleep(100);
      const t0 = performance.now();
      await fx.control(`/shutdown?name=${name}&mode=graceful`, { method: "POST" });
      const r = await busy.client.readResponse({ timeoutMs: 5000 });
      expect(r.text()).toBe("done after 600 ms\n");
      expect(r.header("connection")).toMatch(/close/i);
      expect(busy.errors).toEqual([]);
      const f = await eventually(() => finished(name), (f) => f.finished, 3000);
      expect(f.finished).toBe(true);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    } finally {
      busy.client.destroy();
    }
  });

  it("a graceful shutdown answers a client waiting for a maxConnections slot 503, and finishes the busy one", async () => {
    const name = uniqueId("parked");
    const port = await fx.startApp(name, { limits: { maxConnections: 1, atMaxConnections: "wait" } });
    const busy = await connectWatched(port);
    const waiting = await connectWatched(port);
    try {
      await busy.client.write(req("GET", "/delay?ms=1000"));
      await waiting.client.write(req("GET", "/hello"));
      await waiting.client.expectQuiet(300); // parked: no slot
      await fx.control(`/shutdown?name=${name}&mode=graceful`, { method: "POST" });

      const r = await waiting.client.readResponse({ timeoutMs: 2000 });
      expect(r.status).toBe(503);
      expect(r.text()).toBe("Service Unavailable: the server is shutting down\n");
      expect(r.header("connection")).toMatch(/close/i);
      expect(r.header("retry-after")).toBe("1");
      expect(await waiting.client.waitForServerClose(2000)).toBe(true);
      expect(waiting.errors).toEqual([]);

      const done = await busy.client.readResponse({ timeoutMs: 5000 });
      expect(done.text()).toBe("done after 1000 ms\n");
      expect(done.header("connection")).toMatch(/close/i);
      expect(await busy.client.waitForServerClose(2000)).toBe(true);
      expect((await eventually(() => finished(name), (f) => f.finished, 3000)).finished).toBe(true);
    } finally {
      busy.client.destroy();
      waiting.client.destroy();
    }
  });

  describe.each([
    ["server.shutdown()", "graceful"],
    ["the signal option", "signal"],
  ])("graceful: %s", (_label, mode) => {
    it("lets a 5 s streamed response finish while idle connections close at once; finished settles after", async () => {
      const name = uniqueId(`graceful-${mode}`);
      const port = await fx.startApp(name, { timeouts: { keepAlive: 60_000 }, signal: mode === "signal" });

      const stream = await connectWatched(port);
      const streamStart = performance.now();
      await stream.client.write(req("GET", "/stream?ms=5000&every=100"));
      expect(await waitForBytes(stream.client, "chunk 1\n")).toBe(true);

      const idle = await connectWatched(port);
      await idle.client.write(req("GET", "/hello"));
      const first = await idle.client.readResponse();
      expect(first.status).toBe(200);
      expect(first.header("connection") ?? "").not.toMatch(/close/i);

      const pending = await connectWatched(port);
      await pending.client.write(req("GET", "/delay?ms=1500"));
      await sleep(100);

      const t0 = performance.now();
      await fx.control(`/shutdown?name=${name}&mode=${mode}`, { method: "POST" });

      // the idle keep-alive connection closes at once, without a word
      expect(await within(idle.client.closed, 1000)).toBe(true);
      expect(idle.closedAt()! - t0).toBeLessThan(250);
      expect(idle.client.buffered.length).toBe(0);
      expect(idle.errors).toEqual([]);
      // no new connections
      expect(await tryConnect(port)).toBe("ECONNREFUSED");

      // the response whose head had not been sent goes out, with Connection: close
      const late = await pending.client.readResponse({ timeoutMs: 5000 });
      expect(late.status).toBe(200);
      expect(late.text()).toBe("done after 1500 ms\n");
      expect(late.header("connection")).toMatch(/close/i);
      expect(await pending.client.waitForServerClose(2000)).toBe(true);
      expect(pending.errors).toEqual([]);

      // finished waits for the stream
      await sleep(Math.max(0, 2500 - (performance.now() - t0)));
      expect((await finished(name)).finished).toBe(false);

      const body = await stream.client.readResponse({ timeoutMs: 10_000 });
      const streamDone = performance.now();
      expect(body.status).toBe(200);
      expect(body.text()).toBe(Array.from({ length: 50 }, (_, i) => `chunk ${i}\n`).join(""));
      expect(streamDone - streamStart).toBeGreaterThanOrEqual(4800);
      expect(await stream.client.waitForServerClose(2000)).toBe(true);
      expect(stream.errors).toEqual([]);

      const f = await eventually(() => finished(name), (f) => f.finished, 3000);
      expect(f.finished).toBe(true);
      expect(f.finishedAt! - f.shutdownAt!).toBeGreaterThanOrEqual(4000);
      for (const c of [stream, idle, pending]) c.client.destroy();
    }, 20_000);
  });
});
