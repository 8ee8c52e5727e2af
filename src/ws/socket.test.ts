import { describe, expect, it, vi } from "vitest";
import type { Conn, NetAddr } from "../adapter.ts";
import { ResourceGroup } from "../groups/group.ts";
import { clientFrame, closeBody, parseFrames, type ServerFrame } from "../../test/helpers/ws_frames.ts";
import { DeflateCodec, negotiateDeflate } from "./deflate.ts";
import { CloseEvent } from "./events.ts";
import { type AttachedSocket, attachSocket, ServerWebSocket, type SocketSettings } from "./socket.ts";
import zlib from "node:zlib";

const addr: NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

/** A Conn that records what the socket does; `full` makes write() report backpressure. */
class FakeConn implements Conn {
  remoteAddr = addr;
  localAddr = addr;
  written: Uint8Array[] = [];
  ended = false;
  destroyed = false;
  paused = false;
  full = false;
  handler!: AttachedSocket;
  write(chunk: Uint8Array): boolean {
    if (!this.ended && !this.destroyed) this.written.push(chunk.slice());
    return !this.full;
  }
  end(): void {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    queueMicrotask(() => this.handler.onClose());
  }
  destroy(): void {
    if (this.ended || this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.handler.onClose());
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  ref(): void {}
  unref(): void {}
  frames(): ServerFrame[] {
    const all = new Uint8Array(this.written.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of this.written) all.set(c, at), at += c.byteLength;
    return parseFrames(all).frames;
  }
}

function open(settings: Partial<SocketSettings> = {}, rest = new Uint8Array(0)) {
  const ws = new ServerWebSocket({
    url: "ws://x/",
    protocol: "",
    extensions: "",
    maxPayload: 1 << 20,
    idleTimeout: 0,
    codec: undefined,
    ...settings,
  });
  const log: string[] = [];
  ws.onopen = () => log.push("open");
  ws.onmessage = (e) => log.push(`message ${typeof e.data === "string" ? e.data : "binary"}`);
  ws.onerror = () => log.push("error");
  ws.onclose = (e) => log.push(`close ${e.code} ${e.reason} ${e.wasClean}`);
  const conn = new FakeConn();
  const group = new ResourceGroup();
  conn.handler = attachSocket(ws, conn, rest, group);
  return { ws, conn, log, h: conn.handler, group };
}

const tick = () => new Promise((r) => setTimeout(r, 10));
/** Waits until `pred()` holds (5 s at most), so that slow machines only take longer. */
async function until(pred: () => boolean): Promise<void> {
  const stop = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > stop) throw new Error("condition not met within 5 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("ServerWebSocket", () => {
  it("opens, then reads frames that came with the upgrade", () => {
    const { ws, log } = open({}, clientFrame(1, "early"));
    expect(ws.readyState).toBe(1);
    expect(log).toEqual(["open", "message early"]);
  });

  it("throws from send() before it opens, and closes right after opening if close() came first", () => {
    const ws = new ServerWebSocket({
      url: "ws://x/",
      protocol: "",
      extensions: "",
      maxPayload: 10,
      idleTimeout: 0,
      codec: undefined,
    });
    expect(() => ws.send("x")).toThrow(/not open/);
    ws.close(4001, "early");
    const conn = new FakeConn();
    conn.handler = attachSocket(ws, conn, new Uint8Array(0), new ResourceGroup());
    expect(ws.readyState).toBe(2);
    expect(conn.frames().map((f) => [f.opcode, f.code, f.reason])).toEqual([[8, 4001, "early"]]);
  });

  it("sends text, bytes, views and blobs as single frames, in order", async () => {
    const { ws, conn } = open();
    ws.send("hi");
    ws.send("é".repeat(100));
    ws.send(new Uint8Array([1, 2]).buffer);
    ws.send(new Blob([new Uint8Array([3])]));
    ws.send(new Uint16Array([0x0504]));
    await until(() => conn.frames().length === 5);
    const f = conn.frames();
    expect(f.map((x) => [x.fin, x.opcode, x.masked])).toEqual([[true, 1, false], [true, 1, false], [true, 2, false], [
      true,
      2,
      false,
    ], [true, 2, false]]);
    expect(f[0].text).toBe("hi");
    expect(f[1].text).toBe("é".repeat(100));
    expect(Array.from(f[2].payload)).toEqual([1, 2]);
    expect(Array.from(f[3].payload)).toEqual([3]);
    expect(Array.from(f[4].payload)).toEqual([4, 5]);
  });

  it("frames messages of 125, 126, 65535 and 65536+ bytes with the right length encoding", () => {
    const { ws, conn } = open();
    for (const n of [0, 125, 126, 65535, 65536, 70000]) ws.send(new Uint8Array(n).fill(n & 0xff));
    const frames = conn.frames();
    expect(frames.map((f) => f.payload.byteLength)).toEqual([0, 125, 126, 65535, 65536, 70000]);
    for (const f of frames) expect(f.payload.every((b) => b === (f.payload.byteLength & 0xff))).toBe(true);
    expect(conn.written[4].subarray(0, 10)).toEqual(new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]));
  });

  it("delivers binary as Blob by default and as ArrayBuffer on request", async () => {
    const { ws, h } = open();
    const got: unknown[] = [];
    ws.addEventListener("message", (e) => got.push((e as MessageEvent).data));
    h.onData(clientFrame(2, [1, 2, 3]));
    ws.binaryType = "arraybuffer";
    h.onData(clientFrame(2, [4, 5]));
    expect(got[0]).toBeInstanceOf(Blob);
    expect(Array.from(new Uint8Array(await (got[0] as Blob).arrayBuffer()))).toEqual([1, 2, 3]);
    expect(got[1]).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Uint8Array(got[1] as ArrayBuffer))).toEqual([4, 5]);
  });

  it("answers a ping with a pong carrying the same payload", () => {
    const { conn, h } = open();
    h.onData(clientFrame(9, "are you there"));
    expect(conn.frames().map((f) => [f.opcode, f.text])).toEqual([[10, "are you there"]]);
  });

  it("echoes a close frame, closes TCP, and reports a clean close", async () => {
    const { ws, conn, h, log } = open();
    h.onData(clientFrame(8, closeBody(4000, "done")));
    expect(ws.readyState).toBe(2);
    expect(conn.frames().map((f) => [f.opcode, f.code])).toEqual([[8, 4000]]);
    expect(conn.ended).toBe(true);
    await tick();
    expect(ws.readyState).toBe(3);
    expect(log).toEqual(["open", "close 4000 done true"]);
  });

  it("echoes an empty close frame and reports 1005", async () => {
    const { conn, h, log } = open();
    h.onData(clientFrame(8));
    expect(conn.frames().map((f) => [f.opcode, f.payload.byteLength])).toEqual([[8, 0]]);
    await tick();
    expect(log.at(-1)).toBe("close 1005  true");
  });

  it("close() sends after queued messages, waits for the echo, then ends", async () => {
    const { ws, conn, h, log } = open();
    ws.send("last");
    ws.close(1000, "bye");
    ws.send("ignored");
    expect(conn.frames().map((f) => [f.opcode, f.text.slice(2) || f.text])).toEqual([[1, "st"], [8, "bye"]]);
    expect(conn.ended).toBe(false);
    h.onData(clientFrame(8, closeBody(1000)));
    expect(conn.ended).toBe(true);
    await tick();
    expect(log.at(-1)).toBe("close 1000  true");
  });

  it("waits for a slow reader to take queued messages after close(), and drops a peer that takes nothing", () => {
    vi.useFakeTimers();
    try {
      const { ws, conn, h } = open();
      conn.full = true;
      ws.send("first");
      ws.send("queued");
      ws.close(1000);
      vi.advanceTimersByTime(4000);
      h.onDrain(); // the reader took something: still going
      vi.advanceTimersByTime(4000);
      expect(conn.destroyed).toBe(false);
      vi.advanceTimersByTime(6000); // five seconds and more without progress
      expect(conn.destroyed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("validates close() arguments like the WHATWG interface", () => {
    const { ws } = open();
    expect(() => ws.close(1001)).toThrow(/1000 or 3000-4999/);
    expect(() => ws.close(2999)).toThrow();
    expect(() => ws.close(1000, "x".repeat(124))).toThrow(/123 bytes/);
    expect(ws.readyState).toBe(1);
  });

  it("fails with 1002, sends the code, ends, and fires error then close", async () => {
    const { ws, conn, h, log } = open();
    h.onData(clientFrame(1, "x", { mask: false }));
    expect(conn.frames().map((f) => [f.opcode, f.code])).toEqual([[8, 1002]]);
    expect(conn.ended).toBe(true);
    await tick();
    expect(ws.readyState).toBe(3);
    expect(log).toEqual(["open", "error", "close 1002 client frames must be masked false"]);
  });

  it("reports 1006 when the connection drops without a close frame", async () => {
    const { conn, h, log } = open();
    h.onEnd();
    await tick();
    expect(conn.ended).toBe(true);
    expect(log).toEqual(["open", "close 1006  false"]);
  });

  it("counts bufferedAmount while the connection pushes back, and drains in order", () => {
    const { ws, conn, h } = open();
    conn.full = true;
    ws.send("a");
    expect(ws.bufferedAmount).toBe(0);
    ws.send("bb");
    ws.send(new Uint8Array(1000));
    expect(ws.bufferedAmount).toBe(1002);
    expect(conn.written).toHaveLength(1);
    conn.full = false;
    h.onDrain();
    expect(ws.bufferedAmount).toBe(0);
    expect(conn.frames().map((f) => f.payload.byteLength)).toEqual([1, 2, 1000]);
  });

  it("graceful close sends 1001", async () => {
    const { conn, h, log } = open();
    h.closeGracefully();
    expect(conn.frames().map((f) => [f.opcode, f.code])).toEqual([[8, 1001]]);
    h.onData(clientFrame(8, closeBody(1001)));
    await tick();
    expect(log.at(-1)).toBe("close 1001  true");
  });

  it("pings after idleTimeout and closes with 1006 when nothing comes back", async () => {
    const { conn, log } = open({ idleTimeout: 0.05 });
    await until(() => conn.frames().length > 0);
    expect(conn.frames().map((f) => f.opcode)).toEqual([9]);
    expect(conn.destroyed).toBe(false);
    await until(() => conn.destroyed);
    await tick();
    expect(log).toEqual(["open", "error", "close 1006 no pong within idleTimeout false"]);
  });

  it("stays open while pongs come back", async () => {
    const { conn, h, ws } = open({ idleTimeout: 0.05 });
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 40));
      if (conn.frames().some((f) => f.opcode === 9)) h.onData(clientFrame(10));
    }
    expect(conn.frames().filter((f) => f.opcode === 9).length).toBeGreaterThan(0);
    expect(ws.readyState).toBe(1);
    expect(conn.destroyed).toBe(false);
  });

  it("reports a throwing or rejecting listener and keeps going", async () => {
    const { ws, h } = open();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const seen: string[] = [];
    ws.addEventListener("message", () => {
      throw new Error("boom");
    });
    ws.addEventListener("message", () => Promise.reject(new Error("async boom")));
    ws.addEventListener("message", (e) => seen.push((e as MessageEvent).data), { once: true });
    h.onData(clientFrame(1, "a"));
    h.onData(clientFrame(1, "b"));
    await tick();
    expect(seen).toEqual(["a"]);
    expect(errors).toHaveBeenCalledTimes(4);
    errors.mockRestore();
  });

  it("sets event targets and supports handleEvent objects and signals", () => {
    const { ws, h } = open();
    const ac = new AbortController();
    const got: unknown[] = [];
    ws.addEventListener("message", { handleEvent: (e) => got.push(e.target) });
    ws.addEventListener("message", () => got.push("signal"), { signal: ac.signal });
    h.onData(clientFrame(1, "a"));
    ac.abort();
    h.onData(clientFrame(1, "b"));
    expect(got).toEqual([ws, "signal", ws]);
    expect(new CloseEvent("close", { code: 1000 }).code).toBe(1000);
  });

  it("hands out exactly the message's bytes when inflated messages share zlib's output buffer", async () => {
    const params = negotiateDeflate("permessage-deflate")!;
    const { ws, h } = open({ codec: () => new DeflateCodec(params) });
    ws.binaryType = "arraybuffer";
    const got: unknown[] = [];
    ws.addEventListener("message", (e) => got.push((e as MessageEvent).data));
    const client = zlib.createDeflateRaw();
    const compress = async (data: Uint8Array) => {
      const out: Buffer[] = [];
      const onData = (c: Buffer) => out.push(c);
      client.on("data", onData);
      client.write(data);
      await new Promise<void>((r) => client.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      client.off("data", onData);
      const all = Buffer.concat(out);
      return all.subarray(0, all.length - 4);
    };
    h.onData(clientFrame(1, await compress(Buffer.from("hi")), { rsv: 4 }));
    h.onData(clientFrame(2, await compress(Buffer.from([1, 2, 3])), { rsv: 4 }));
    await until(() => got.length === 2);
    expect(got[0]).toBe("hi");
    expect(Array.from(new Uint8Array(got[1] as ArrayBuffer))).toEqual([1, 2, 3]);
  });

  it("compresses large messages when permessage-deflate is agreed, and reads compressed ones", async () => {
    const params = negotiateDeflate("permessage-deflate")!;
    const { ws, conn, h, log } = open({ codec: () => new DeflateCodec(params) });
    ws.send("small");
    ws.send("z".repeat(5000));
    ws.send(new Uint8Array(4000).fill(7));
    ws.send("after");
    await until(() => conn.frames().length === 4);
    const f = conn.frames();
    expect(f.map((x) => [x.opcode, x.rsv])).toEqual([[1, 0], [1, 4], [2, 4], [1, 0]]);
    const inflate = (p: Uint8Array) =>
      zlib.inflateRawSync(Buffer.concat([p, Buffer.from([0, 0, 255, 255])]), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    expect(inflate(f[1].payload).toString()).toBe("z".repeat(5000));
    expect(f[1].payload.byteLength).toBeLessThan(100);
    const c = zlib.deflateRawSync(Buffer.from("compressed hello"), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    h.onData(clientFrame(1, c.subarray(0, c.length - 4), { rsv: 4 }));
    await until(() => log.length === 2);
    expect(log.at(-1)).toBe("message compressed hello");
  });
});
