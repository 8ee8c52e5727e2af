/**
 * Abusive clients end to end (issue 18), the same scenarios under node, deno
 * and bun, over real sockets (test/fixtures/abuse.mjs):
 *
 * - 500 connections reset in the accept backlog, before the server took them;
 * - a client that resets mid-response, with a pull-based streamed body (the
 *   body's `cancel()` runs, the request's signal and group abort, the stream
 *   is not pulled to its end) and with a file body (the file is closed);
 * - 5,000 connections opened and dropped;
 * - downloads abandoned mid-file (issue 12.8): a client going away is not
 *   an error to log.
 *
 * After each, a normal request on a new connection is answered within 1 s
 * and the server's descriptors (`/proc/<pid>/fd`) are back at their baseline.
 * Node runs dist/ (build first: `npm test` does), Deno and Bun the sources.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fdsOpenOn, openFds } from "../helpers/groups.ts";
import { RawClient } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type RunningServer, type Runtime, startServer } from "../helpers/runtime.ts";
import { eventually, sleep, uniqueId } from "../helpers/util.ts";

const MiB = 1024 * 1024;
const NORMAL = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

let dir: string;
let bigFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "portico-abuse-"));
  bigFile = path.join(dir, "big.bin");
  writeFileSync(bigFile, new Uint8Array(64 * MiB).fill(98));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Connects to `port`; resolves with the socket once connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.off("error", reject);
      s.on("error", () => {}); // resets and the like are what these tests cause
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Waits until `socket` is closed. */
function closed(socket: net.Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((r) => socket.once("close", () => r()));
}

/** Waits for the first bytes of the response on `socket`. */
function firstBytes(socket: net.Socket): Promise<void> {
  return new Promise((r) => socket.once("data", () => r()));
}

/**
 * Sends the normal request on a new connection; resolves with how long the
 * answer took (ms) and its status, or `Infinity` and the error if there was
 * none within 5 s.
 */
async function normalRequest(port: number): Promise<{ ms: number; status: number | string }> {
  const t0 = performance.now();
  try {
    const c = await RawClient.connect(port);
    try {
      await c.write(NORMAL);
      const r = await c.readResponse({ timeoutMs: 5000 });
      return { ms: performance.now() - t0, status: r.status };
    } finally {
      c.destroy();
    }
  } catch (e) {
    return { ms: Infinity, status: String(e) };
  }
}

/** Runs `n` tasks, `concurrency` at a time. */
async function inBatches(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe.each(RUNTIMES)("abusive clients on %s", (runtime: Runtime) => {
  let server: RunningServer;
  let pid: number;
  let baseline: number;
  const fds = () => Promise.resolve(openFds(pid).length);

  /** A normal request is answered within 1 s, and the descriptors return to their baseline. */
  async function expectRecovered(): Promise<void> {
    const answer = await normalRequest(server.port);
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(1000);
    // Connections the server closed itself linger up to 2 s, reading.
    expect(await eventually(fds, (n) => n <= baseline, 5000)).toBeLessThanOrEqual(baseline);
  }

  beforeAll(async () => {
    server = await startServer(runtime, "abuse.mjs", { args: [`--file=${bigFile}`] });
    pid = (await (await fetch(`${server.url}/pid`)).json()).pid;
    // Warm up every route once, so descriptors a runtime opens lazily (its
    // file-reading threads, say) are part of the baseline.
    await (await fetch(`${server.url}/file`)).arrayBuffer();
    await (await fetch(`${server.url}/stream?id=warmup&chunks=100`)).arrayBuffer();
    expect((await normalRequest(server.port)).status).toBe(200);
    await sleep(200);
    baseline = openFds(pid).length;
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  it("answers at once after 500 connections were reset in the accept backlog", async () => {
    expect((await normalRequest(server.port)).status).toBe(200);
    // The server's event loop is blocked meanwhile, so each connection is
    // reset (right after connecting, without sending a byte) while it still
    // waits in the kernel's accept queue.
    const blocker = await RawClient.connect(server.port);
    await blocker.write("GET /block?ms=1000 HTTP/1.1\r\nHost: a\r\n\r\n");
    await sleep(200);
    await Promise.all(Array.from({ length: 500 }, () =>
      new Promise<void>((resolve) => {
        const s = net.connect({ port: server.port, host: "127.0.0.1" }, () => s.resetAndDestroy());
        s.on("error", () => {});
        s.once("close", () => resolve());
      })));
    expect((await blocker.readResponse()).text()).toBe("unblocked");
    blocker.destroy();
    await expectRecovered();
  });

  it("stops pulling a streamed body, runs its cancel() and aborts the request when the client resets", async () => {
    const id = uniqueId("stream");
    const s = await connect(server.port);
    s.write(`GET /stream?id=${id}&chunks=2000000 HTTP/1.1\r\nHost: a\r\n\r\n`);
    await firstBytes(s);
    s.resetAndDestroy();
    await expectRecovered();
    type State = { pulls: number; chunks: number; cancelled: boolean; requestAborted: boolean; groupAborted: boolean };
    const state = await eventually(
      async () => (await (await fetch(`${server.url}/state?id=${id}`)).json()) as State,
      (st) => st.cancelled,
      3000,
    );
    expect(state).toMatchObject({ cancelled: true, requestAborted: true, groupAborted: true });
    expect(state.pulls).toBeLessThan(state.chunks);
    // Not pulled on in the background either.
    const later = (await (await fetch(`${server.url}/state?id=${id}`)).json()) as State;
    await sleep(200);
    expect(((await (await fetch(`${server.url}/state?id=${id}`)).json()) as State).pulls).toBe(later.pulls);
  });

  it("closes the file when the client resets mid-download", async () => {
    const s = await connect(server.port);
    s.write("GET /file HTTP/1.1\r\nHost: a\r\n\r\n");
    await firstBytes(s);
    s.resetAndDestroy();
    await expectRecovered();
    expect(await eventually(() => Promise.resolve(fdsOpenOn(pid, bigFile)), (n) => n === 0, 3000)).toBe(0);
  });

  it("survives 5,000 connections opened and dropped", async () => {
    // Dropped every way a client drops: FIN and RST, before and after
    // sending part of a request.
    await inBatches(5000, 100, async (i) => {
      const s = await connect(server.port);
      if (i % 4 >= 2) s.write("GET /hello HTTP/1.1\r\nHo");
      if (i % 2 === 0) s.destroy();
      else s.resetAndDestroy();
      await closed(s);
    });
    await expectRecovered();
  }, 60_000);

  it("logs nothing when 25 clients leave in the middle of a file download", async () => {
    const from = server.stderr().length;
    for (let i = 0; i < 25; i++) {
      const abort = new AbortController();
      const r = await fetch(`${server.url}/file`, { signal: abort.signal });
      const reader = r.body!.getReader();
      // Stop after a varying amount, so the abort meets the server at
      // different points of its pull/write cycle.
      for (let n = 0; n <= i % 5; n++) await reader.read();
      abort.abort();
      await reader.closed.catch(() => {});
    }
    for (let i = 0; i < 25; i++) {
      const s = await connect(server.port);
      s.write("GET /file HTTP/1.1\r\nHost: a\r\n\r\n");
      await firstBytes(s);
      if (i % 2 === 0) s.destroy();
      else s.end(); // half-close: the server sees a FIN and may still write
      if (i % 2 === 1) {
        s.resume();
        await sleep(5);
        s.destroy();
      }
      await closed(s);
    }
    await expectRecovered();
    expect(await eventually(() => Promise.resolve(fdsOpenOn(pid, bigFile)), (n) => n === 0, 3000)).toBe(0);
    await sleep(200); // a late log line would come now
    expect(server.stderr().slice(from)).not.toMatch(/response body failed|file closed|error/i);
  }, 60_000);
});
