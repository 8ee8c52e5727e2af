/**
 * The upgrade contract (src/server/upgrade.ts), the same under node, deno
 * and bun over real sockets, with a raw echo protocol as the upgraded one
 * (test/fixtures/groups.mjs, `/upgrade` with `Upgrade: echo`):
 *
 * - the 101 head carries the handler's fields and nothing after it is
 *   parsed as HTTP; the bytes that came with the request head are handed
 *   over first;
 * - the request group lives until the upgraded connection closes, and is
 *   shut down then; `info.completed` settles with the 101, the request's
 *   signal does not abort;
 * - a graceful shutdown calls `closeGracefully()` and waits for the close
 *   within `timeouts.shutdown`; an immediate one destroys the socket.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RawClient, req } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime } from "../helpers/runtime.ts";
import { eventually, sleep, uniqueId } from "../helpers/util.ts";
import { fdsOf, type GroupsFixture, startGroupsFixture, waitForBytes, within } from "../helpers/groups.ts";

interface UpgradeRecord {
  upgradedAt: number | null;
  rest: string | null;
  sameGroup: boolean;
  closedAt: number | null;
  gracefulAt: number | null;
  groupClosedAt: number | null;
  signalAborted: boolean;
  completedAt: number | null;
}

const HEAD_END = "\r\n\r\n";

describe.each(RUNTIMES)("upgrade on %s", (runtime: Runtime) => {
  let fx: GroupsFixture;

  beforeAll(async () => {
    fx = await startGroupsFixture(runtime);
  });
  afterAll(async () => {
    await fx?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => fx?.process));

  const record = (id: string) => fx.state<UpgradeRecord>(id);

  /** Connects, sends the upgrade request (plus `early` in the same write), reads the 101 head. */
  async function upgrade(port: number, id: string, mode = "polite", early = "") {
    const c = await RawClient.connect(port);
    await c.write(req("GET", `/upgrade?id=${id}&mode=${mode}`, { upgrade: "echo", connection: "Upgrade" }) + early);
    expect(await waitForBytes(c, HEAD_END)).toBe(true);
    const text = c.buffered.toString("latin1");
    const head = text.slice(0, text.indexOf(HEAD_END) + HEAD_END.length);
    return { c, head, after: () => c.buffered.toString("latin1").slice(head.length) };
  }

  it("writes the 101 head, hands over the early bytes, then echoes raw bytes; HTTP is no longer parsed", async () => {
    const id = uniqueId("up");
    const { c, head, after } = await upgrade(fx.port, id, "polite", "early bytes|");
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toContain("upgrade: echo\r\n");
    expect(head).toContain("connection: Upgrade\r\n");
    expect(head).toContain(`x-id: ${id}\r\n`);
    expect(head).not.toMatch(/content-length|transfer-encoding/i);
    expect(await waitForBytes(c, "early bytes|")).toBe(true);
    // what would be a request is echoed, not answered
    const http = req("GET", "/hello");
    await c.write(http);
    expect(await waitForBytes(c, http)).toBe(true);
    await sleep(50);
    expect(after()).toBe("early bytes|" + http);
    const rec = (await record(id))!;
    expect(rec.rest).toBe("early bytes|");
    expect(rec.sameGroup).toBe(true);
    c.destroy();
  });

  it("keeps the request group open until the upgraded connection closes, then shuts it down", async () => {
    const id = uniqueId("up");
    const { c } = await upgrade(fx.port, id);
    await c.write("ping\n");
    expect(await waitForBytes(c, "ping\n")).toBe(true);
    await sleep(200);
    let rec = (await record(id))!;
    expect(rec.completedAt).not.toBeNull(); // info.completed settles with the 101
    expect(rec.groupClosedAt).toBeNull(); // ...but the group lives on
    expect(rec.signalAborted).toBe(false);
    await c.write("close\n");
    expect(await c.waitForServerClose(2000)).toBe(true);
    rec = (await eventually(() => record(id), (r) => r?.groupClosedAt != null && r.closedAt != null, 2000))!;
    expect(rec.groupClosedAt).not.toBeNull();
    expect(rec.closedAt).not.toBeNull();
    expect(rec.signalAborted).toBe(false);
    c.destroy();
    const fds = await eventually(() => fdsOf(fx.pid, fx.port), (f) => f.onPort === 1, 3000);
    expect(fds.onPort).toBe(1);
  });

  it("the client's FIN reaches the upgraded connection (here it ends too)", async () => {
    const id = uniqueId("up");
    const { c } = await upgrade(fx.port, id);
    c.end();
    expect(await c.waitForServerClose(2000)).toBe(true);
    const rec = await eventually(() => record(id), (r) => r?.groupClosedAt != null, 2000);
    expect(rec?.closedAt).not.toBeNull();
  });

  it("a request without the Upgrade field is answered as usual", async () => {
    const c = await RawClient.connect(fx.port);
    await c.write(req("GET", "/upgrade"));
    const r = await c.readResponse();
    expect(r.status).toBe(426);
    await c.write(req("GET", "/hello"));
    expect((await c.readResponse()).status).toBe(200);
    c.destroy();
  });

  it("graceful shutdown calls closeGracefully() and waits for the close", async () => {
    const name = uniqueId("up-graceful");
    const port = await fx.startApp(name, { timeouts: { shutdown: 5000 } });
    const id = uniqueId("up");
    const { c, after } = await upgrade(port, id);
    await c.write("hi\n");
    expect(await waitForBytes(c, "hi\n")).toBe(true);
    const s = await fx.control<{ shutdownMs: number; finished: boolean }>(
      `/shutdown?name=${name}&mode=graceful-wait`,
      { method: "POST" },
    );
    expect(s.shutdownMs).toBeLessThan(1000);
    expect(s.finished).toBe(true);
    expect(await c.waitForServerClose(1000)).toBe(true);
    expect(after()).toBe("hi\nbye\n");
    const rec = (await record(id))!;
    expect(rec.gracefulAt).not.toBeNull();
    expect(rec.closedAt).not.toBeNull();
    expect(rec.groupClosedAt).not.toBeNull();
    c.destroy();
  });

  it("graceful shutdown destroys an upgraded connection that does not close within timeouts.shutdown", async () => {
    const name = uniqueId("up-stubborn");
    const port = await fx.startApp(name, { timeouts: { shutdown: 800 } });
    const id = uniqueId("up");
    const { c } = await upgrade(port, id, "stubborn");
    const s = await fx.control<{ shutdownMs: number; finished: boolean }>(
      `/shutdown?name=${name}&mode=graceful-wait`,
      { method: "POST" },
    );
    expect(s.shutdownMs).toBeGreaterThanOrEqual(700);
    expect(s.shutdownMs).toBeLessThan(2000);
    expect(s.finished).toBe(true);
    expect(await within(c.closed, 1000)).toBe(true);
    const rec = (await record(id))!;
    expect(rec.gracefulAt).not.toBeNull();
    expect(rec.closedAt).not.toBeNull();
    expect(rec.groupClosedAt).not.toBeNull();
    const fds = await eventually(() => fdsOf(fx.pid, port), (f) => f.onPort === 0, 3000);
    expect(fds.onPort).toBe(0);
  });

  it("immediate shutdown destroys the upgraded connection at once", async () => {
    const name = uniqueId("up-immediate");
    const port = await fx.startApp(name, {});
    const id = uniqueId("up");
    const { c } = await upgrade(port, id);
    const r = await fx.control<{ finishedAfterMs: number }>(`/shutdown?name=${name}&mode=immediate`, { method: "POST" });
    expect(r.finishedAfterMs).toBeLessThan(200);
    expect(await within(c.closed, 1000)).toBe(true);
    const rec = await eventually(() => record(id), (x) => x?.closedAt != null && x.groupClosedAt != null, 2000);
    expect(rec?.gracefulAt).toBeNull();
    expect(rec?.closedAt).not.toBeNull();
    expect(rec?.groupClosedAt).not.toBeNull();
  });
});
