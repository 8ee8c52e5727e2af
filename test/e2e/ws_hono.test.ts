/**
 * portico/hono's upgradeWebSocket in a real Hono app, under node, deno and
 * bun, driven by each runtime's own client and by raw frames.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { printStderrOnFailure, RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";
import { eventually } from "../helpers/util.ts";
import { clientFrame } from "../helpers/ws_frames.ts";
import { WsRaw } from "../helpers/ws_raw.ts";

/** Opens a `ws` client and collects what it receives. */
async function open(url: string, protocols?: string[]) {
  const ws = new WebSocket(url, protocols);
  const inbox: (string | Buffer)[] = [];
  let wake: (() => void) | null = null;
  ws.on("message", (data, isBinary) => {
    inbox.push(isBinary ? (data as Buffer) : data.toString());
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on("close", (code, reason) => r({ code, reason: reason.toString() }))
  );
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
    return inbox.shift()!;
  };
  return { ws, next, closed };
}

describe.each(RUNTIMES)("Hono upgradeWebSocket on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "ws_hono.mjs");
  });
  afterAll(() => server?.stop());
  beforeEach((ctx) => printStderrOnFailure(ctx, runtime, () => server));

  it("opens, greets, echoes text and binary, and closes from the server", async () => {
    const c = await open(`ws://127.0.0.1:${server.port}/ws?name=ada`, ["chat", "other"]);
    expect(c.ws.protocol).toBe("chat");
    expect(await c.next()).toBe('welcome ada ("chat", 1)');
    c.ws.send("hi");
    expect(await c.next()).toBe("echo: hi");
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(Array.from(await c.next() as Buffer)).toEqual([1, 2, 3]);
    c.ws.send("bye");
    expect(await c.closed).toEqual({ code: 4002, reason: "bye to you" });
    const last = await eventually(
      async () => (await fetch(`${server.url}/closed`)).json(),
      (v) => v !== null,
    );
    expect(last).toEqual({ code: 4002, reason: "bye to you", wasClean: true });
  });

  it("supports the (c, events) form", async () => {
    const c = await open(`ws://127.0.0.1:${server.port}/ws2`);
    c.ws.send("x");
    expect(await c.next()).toBe("two: x");
    c.ws.close();
    await c.closed;
  });

  it("passes plain requests on to the next handler and refuses bad handshakes", async () => {
    const plain = await fetch(`${server.url}/ws`);
    expect(plain.status).toBe(404);
    expect((await fetch(`${server.url}/`)).headers.get("x-runtime")).toBe(runtime);
    const bad = await WsRaw.connect(server.port, "/ws", { headers: { "sec-websocket-version": "12" } });
    expect(bad.status).toBe(426);
    expect(bad.headers.get("sec-websocket-version")).toBe("13");
    bad.destroy();
    const raw = await WsRaw.connect(server.port, "/ws?name=raw");
    expect(raw.status).toBe(101);
    expect((await raw.next()).text).toBe('welcome raw ("", 1)');
    raw.send(clientFrame(1, "x", { mask: false }));
    const f = await raw.next();
    expect([f.opcode, f.code]).toEqual([8, 1002]);
    await raw.waitClosed();
  });
});
