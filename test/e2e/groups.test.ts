/**
 * Resource groups end to end (issue 3), the same under node, deno and bun:
 * a handler's resources follow its request, and 10,000 connections — many
 * cut short by limits and timeouts — leave no group, socket or descriptor
 * behind.
 *
 * The fixture (test/fixtures/groups.mjs) runs the app server and, beside it,
 * a control server through which the test reads `server.group.usage` and
 * what handlers recorded, so that looking never adds a connection to the
 * server being looked at. Open files are checked from outside, in
 * /proc/<pid>/fd of the server process.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RawClient, req } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime } from "../helpers/runtime.ts";
import { eventually, sleep, uniqueId } from "../helpers/util.ts";
import {
  connectWatched,
  fdsOpenOn,
  type GroupsFixture,
  type GroupUsage,
  openFds,
  type ResourceRecord,
  socketFds,
  startGroupsFixture,
  waitForBytes,
} from "../helpers/groups.ts";

// Short timeouts and small limits, so that the clients cut short by them
// are cut quickly (the sweeper runs every 125 ms).
const OPTIONS = {
  timeouts: { headers: 500, body: 500, keepAlive: 500, send: 500 },
  limits: { maxUrlBytes: 1024, maxHeaderBytes: 2048, maxBodyBytes: 4096, connectionBytes: 16 * 1024 },
};

describe.each(RUNTIMES)("resource groups on %s", (runtime: Runtime) => {
  let fx: GroupsFixture;
  let baseline: GroupUsage;

  beforeAll(async () => {
    fx = await startGroupsFixture(runtime, OPTIONS);
    baseline = await fx.usage();
  });
  afterAll(async () => {
    await fx?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => fx?.process));

  const record = async (id: string) => (await fx.state<ResourceRecord>(id))!;
  const started = (id: string) =>
    eventually(() => fx.state<ResourceRecord>(id), (r) => r !== null && r.opened, 5000);
  const closedDown = (id: string) =>
    eventually(() => record(id), (r) => r.groupAbortedAt !== null && r.finaliserRanAt !== null, 3000);
  /** The interval has stopped: the tick count stays put. */
  async function ticksFrozen(id: string): Promise<[number, number]> {
    // A group closes its resources in reverse order, awaiting each: the
    // interval (adopted first) is cleared after the file handle's async
    // close has settled, which the finaliser mark and the descriptor count
    // can precede by a few ms (seen once on bun: one more tick).
    await sleep(50);
    const a = (await record(id)).ticks;
    await sleep(120);
    return [a, (await record(id)).ticks];
  }

  /** A fresh app server for one test, so one test's leftovers cannot spoil another's usage figures. */
  async function appServer(prefix: string): Promise<{ name: string; port: number; usage: () => Promise<GroupUsage> }> {
    const name = uniqueId(prefix);
    const port = await fx.startApp(name, OPTIONS);
    return { name, port, usage: () => fx.usage(name) };
  }

  it("has a root group holding only the listener while idle", () => {
    expect(baseline.groups).toBe(1);
    expect(baseline.bytes).toBe(0);
    // the listener, and whatever the root keeps to settle `finished`
    expect(baseline.resources).toBeGreaterThanOrEqual(1);
    expect(baseline.resources).toBeLessThanOrEqual(3);
  });

  it("gives the handler its request group (ResourceGroup.current() is info.group) and closes it with the response", async () => {
    const app = await appServer("quick");
    const id = uniqueId("quick");
    const c = await RawClient.connect(app.port);
    try {
      await c.write(req("GET", `/resources?id=${id}&mode=quick`));
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(r.text()).toBe(`resources of ${id}\n`);
      const rec = await closedDown(id);
      expect(rec.currentIsRequestGroup).toBe(true);
      expect(rec.currentAfterAwait).toBe(true);
      expect(rec.depth).toBe(2); // request group → connection group → root
      expect(rec.groupReason?.name).toBe("GroupShutdownError");
      expect(rec.requestAbortedAt).toBeNull(); // the response completed: no abort
      expect(await eventually(() => fdsOpenOn(fx.pid, rec.file), (n) => n === 0, 2000)).toBe(0);
      const [a, b] = await ticksFrozen(id);
      expect(b).toBe(a);
      // the connection is still open (keep-alive), its request group is gone
      const u = await app.usage();
      expect(u.groups).toBe(2);
    } finally {
      c.destroy();
    }
    const u = await eventually(() => app.usage(), (u) => u.groups === 1, 3000);
    expect(u).toEqual(baseline);
  });

  for (const how of ["closes its socket (FIN)", "resets its socket (RST)"] as const) {
    it(`closes the interval and the file when the client ${how} before the response`, async () => {
      const app = await appServer("hang");
      const id = uniqueId("hang");
      const c = await connectWatched(app.port);
      await c.client.write(req("GET", `/resources?id=${id}&mode=hang`));
      const live = await started(id);
      expect(live?.opened).toBe(true);
      expect(fdsOpenOn(fx.pid, live!.file)).toBe(1);
      const running = await eventually(() => record(id), (r) => r.ticks >= 3, 2000);
      expect(running.ticks).toBeGreaterThanOrEqual(3);
      // root + connection + request
      expect((await app.usage()).groups).toBe(3);

      if (how === "resets its socket (RST)") c.client.reset();
      else c.client.destroy();
      const rec = await closedDown(id);
      expect({
        requestSignalAborted: rec.requestAbortedAt !== null,
        requestGroupShutDown: rec.groupAbortedAt !== null,
        finaliserRan: rec.finaliserRanAt !== null,
      }).toEqual({ requestSignalAborted: true, requestGroupShutDown: true, finaliserRan: true });
      expect(await eventually(() => fdsOpenOn(fx.pid, rec.file), (n) => n === 0, 2000)).toBe(0);
      const [a, b] = await ticksFrozen(id);
      expect(b).toBe(a);
      expect(await eventually(() => app.usage(), (u) => u.groups === 1, 3000)).toEqual(baseline);
    });
  }

  it("closes the interval and the file when the client disconnects in the middle of a streamed response", async () => {
    const app = await appServer("stream");
    const id = uniqueId("stream");
    const c = await connectWatched(app.port);
    await c.client.write(req("GET", `/resources?id=${id}&mode=stream`));
    expect(await waitForBytes(c.client, "tick 2\n")).toBe(true);
    expect(c.client.buffered.toString("latin1")).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const live = await record(id);
    expect(fdsOpenOn(fx.pid, live.file)).toBe(1);
    expect(live.groupAbortedAt).toBeNull();

    c.client.destroy();
    const rec = await closedDown(id);
    expect(rec.requestAbortedAt).not.toBeNull();
    expect(await eventually(() => record(id), (r) => r.streamCancelledAt !== null, 2000)).toMatchObject({
      streamCancelledAt: expect.any(Number),
    });
    expect(await eventually(() => fdsOpenOn(fx.pid, rec.file), (n) => n === 0, 2000)).toBe(0);
    const [a, b] = await ticksFrozen(id);
    expect(b).toBe(a);
    expect(await eventually(() => app.usage(), (u) => u.groups === 1, 3000)).toEqual(baseline);
  });

  it("closes the interval and the file when the server shuts down (immediate)", async () => {
    const name = uniqueId("doomed");
    const port = await fx.startApp(name, {});
    const ids = [uniqueId("doomed-hang"), uniqueId("doomed-stream")];
    const clients = [await connectWatched(port), await connectWatched(port)];
    await clients[0]!.client.write(req("GET", `/resources?id=${ids[0]}&mode=hang`));
    await clients[1]!.client.write(req("GET", `/resources?id=${ids[1]}&mode=stream`));
    for (const id of ids) await started(id);
    expect(await waitForBytes(clients[1]!.client, "tick 1\n")).toBe(true);
    for (const id of ids) expect(fdsOpenOn(fx.pid, (await record(id)).file)).toBe(1);

    const r = await fx.control<{ finishedAfterMs: number }>(`/shutdown?name=${name}&mode=immediate`, { method: "POST" });
    expect(r.finishedAfterMs).toBeLessThan(100);
    for (const id of ids) {
      // everything was closed by the time `finished` settled
      const rec = await record(id);
      expect(rec.groupAbortedAt).not.toBeNull();
      expect(rec.finaliserRanAt).not.toBeNull();
      expect(fdsOpenOn(fx.pid, rec.file)).toBe(0);
      const [a, b] = await ticksFrozen(id);
      expect(b).toBe(a);
    }
    for (const c of clients) {
      expect(await c.client.waitForServerClose(1000)).toBe(true);
    }
    // the client whose response was being streamed got no reset
    await sleep(20);
    expect(clients[1]!.errors).toEqual([]);
    for (const c of clients) c.client.destroy();
  });

  it("leaves no group, socket or descriptor behind after 10,000 connections, many cut short by limits and timeouts", async () => {
    // Warm up: every kind of client once, so the runtime has opened whatever
    // descriptors it opens lazily (thread pools, timers, the file system)
    // before the baseline is taken.
    const app = await appServer("leak");
    for (let i = 0; i < KINDS.length; i++) {
      const outcome = await runClient(app.port, i, `warm-${runtime}`);
      expect(outcome, `warm-up client of kind ${KINDS[i]}`).toBe(EXPECTED[KINDS[i]!]);
    }
    await eventually(() => app.usage(), (u) => u.groups === 1 && u.bytes === 0, 5000);
    await sleep(200);
    const fdBaseline = openFds(fx.pid).length;
    const socketBaseline = socketFds(fx.pid);

    const total = 10_000;
    const concurrency = 100;
    const outcomes = new Map<string, Map<string, number>>();
    let next = 0;
    let peakGroups = 0;
    const sampler = setInterval(() => {
      app.usage().then((u) => (peakGroups = Math.max(peakGroups, u.groups)), () => {});
    }, 200);
    try {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (;;) {
            const i = next++;
            if (i >= total) return;
            const kind = KINDS[i % KINDS.length]!;
            const outcome = await runClient(app.port, i, runtime);
            const m = outcomes.get(kind) ?? new Map<string, number>();
            m.set(outcome, (m.get(outcome) ?? 0) + 1);
            outcomes.set(kind, m);
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }

    // Every client got the answer its kind calls for.
    const summary = Object.fromEntries([...outcomes].map(([k, m]) => [k, Object.fromEntries(m)]));
    const expected = Object.fromEntries(
      [...outcomes.keys()].map((k) => [k, { [EXPECTED[k]!]: [...outcomes.get(k)!.values()].reduce((a, b) => a + b) }]),
    );
    expect(summary).toEqual(expected);
    expect(peakGroups).toBeGreaterThan(1); // the usage really was watched under load

    // Afterwards: only the root group and its listener, no charged bytes,
    // and the process's descriptors back to their baseline.
    const usage = await eventually(
      () => app.usage(),
      (u) => u.groups === baseline.groups && u.resources === baseline.resources && u.bytes === 0,
      5000,
    );
    const fds = await eventually(() => openFds(fx.pid).length, (n) => n <= fdBaseline, 3000);
    const sockets = socketFds(fx.pid);
    // (The control connections the test itself keeps alive may come and go,
    // so "back to the baseline" means "not above it".)
    expect({ usage, fds, sockets }).toEqual({
      usage: baseline,
      fds: fds <= fdBaseline ? fds : `at most ${fdBaseline}`,
      sockets: sockets <= socketBaseline ? sockets : `at most ${socketBaseline}`,
    });
  }, 120_000);
});

// ---------------------------------------------------------------- the 10,000 clients

/** The kinds of client, in the order they repeat. Most are plain requests. */
const KINDS = [
  "url-too-long",
  "headers-too-large",
  "body-too-large-declared",
  "body-too-large-chunked",
  "header-timeout",
  "silent",
  "body-timeout",
  "abort-mid-request",
  "reset-mid-response",
  "keep-alive-timeout",
  "connection-budget",
  ...Array.from({ length: 39 }, (_, i) => (i % 3 === 0 ? "request-close" : "request")),
] as const;

const EXPECTED: Record<string, string> = {
  "url-too-long": "414 closed",
  "headers-too-large": "431 closed",
  "body-too-large-declared": "413 closed",
  "body-too-large-chunked": "413 closed",
  "header-timeout": "408 closed",
  "silent": "closed without a response",
  "body-timeout": "4xx closed",
  "abort-mid-request": "aborted",
  "reset-mid-response": "reset",
  "keep-alive-timeout": "200 closed",
  "connection-budget": "closed, flood unanswered",
  "request-close": "200 closed",
  "request": "200",
};

/** Runs client number `i` (its kind is KINDS[i % KINDS.length]) and describes what happened. */
async function runClient(port: number, i: number, tag: string): Promise<string> {
  const kind = KINDS[i % KINDS.length]!;
  let c: RawClient;
  try {
    c = await RawClient.connect(port);
  } catch (e) {
    return `connect failed: ${(e as Error).message}`;
  }
  const closedAfter = async (status: number | string) =>
    `${status} ${(await c.waitForServerClose(3000)) ? "closed" : "left open"}`;
  try {
    switch (kind) {
      case "url-too-long":
        await c.write(req("GET", "/" + "u".repeat(1100)));
        return await closedAfter((await c.readResponse()).status);
      case "headers-too-large":
        await c.write(req("GET", "/hello", { "x-padding": "h".repeat(2100) }));
        return await closedAfter((await c.readResponse()).status);
      case "body-too-large-declared":
        await c.write(req("POST", "/read", { "content-length": "10000" }));
        return await closedAfter((await c.readResponse()).status);
      case "body-too-large-chunked": {
        const chunk = `7d0\r\n${"b".repeat(2000)}\r\n`;
        await c.write(req("POST", "/read", { "transfer-encoding": "chunked" }) + chunk + chunk + chunk);
        return await closedAfter((await c.readResponse()).status);
      }
      case "header-timeout":
        await c.write("GET /hello HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        return await closedAfter((await c.readResponse({ timeoutMs: 3000 })).status);
      case "silent": {
        const closed = await c.waitForServerClose(3000);
        return closed && c.buffered.length === 0 ? "closed without a response" : `closed ${closed}, ${c.buffered.length} bytes`;
      }
      case "body-timeout": {
        await c.write(req("POST", "/read", { "content-length": "100" }) + "0123456789");
        const r = await c.readResponse({ timeoutMs: 3000 });
        return await closedAfter(r.status >= 400 && r.status < 500 ? "4xx" : r.status);
      }
      case "abort-mid-request":
        await c.write(req("GET", `/resources?id=leak-${tag}-${i}&mode=hang`));
        await sleep(20);
        return c.isClosed ? "closed by the server" : "aborted";
      case "reset-mid-response":
        await c.write(req("GET", `/resources?id=leak-${tag}-${i}&mode=stream`));
        if (!(await waitForBytes(c, "tick 1\n", 3000))) return `no stream: ${JSON.stringify(c.buffered.toString("latin1").slice(0, 100))}`;
        c.reset();
        return "reset";
      case "keep-alive-timeout":
        await c.write(req("GET", "/hello"));
        return await closedAfter((await c.readResponse()).status);
      case "connection-budget": {
        // a request the handler holds, then 20 KiB of pipelined requests
        // the server must buffer: over the 16 KiB budget
        const more = req("GET", "/hello").repeat(Math.ceil(20 * 1024 / req("GET", "/hello").length));
        await c.write(req("GET", `/resources?id=leak-${tag}-${i}&mode=hang`) + more).catch(() => {});
        const closed = await c.waitForServerClose(3000);
        const served = c.buffered.toString("latin1").split("hello\n").length - 1;
        return closed && served === 0 ? "closed, flood unanswered" : `closed ${closed}, ${served} of the flood answered`;
      }
      case "request-close":
        await c.write(req("GET", "/hello", { connection: "close" }));
        return await closedAfter((await c.readResponse()).status);
      case "request": {
        await c.write(req("GET", "/hello"));
        return String((await c.readResponse()).status);
      }
    }
  } catch (e) {
    return `error: ${(e as Error).message.slice(0, 200)}`;
  } finally {
    c.destroy();
  }
}
