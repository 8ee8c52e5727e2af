/**
 * WebSocket over real sockets under node, deno and bun: the handshake, every
 * framing rule of RFC 6455 with raw frames, permessage-deflate, idle pings,
 * backpressure, the close handshake, and ownership by the request's group.
 */
import zlib from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { printStderrOnFailure, RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";
import { sleep, uniqueId } from "../helpers/util.ts";
import { clientFrame, closeBody } from "../helpers/ws_frames.ts";
import { TEST_ACCEPT, WsRaw } from "../helpers/ws_raw.ts";

const TEXT = 1, BINARY = 2, CLOSE = 8, PING = 9, PONG = 10, CONT = 0;

/** A raw client's payload compressed for permessage-deflate (sync-flushed, tail removed). */
function deflate(data: string | Uint8Array): Uint8Array {
  const c = zlib.deflateRawSync(typeof data === "string" ? Buffer.from(data) : data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return c.subarray(0, c.length - 4);
}

/** A client's compressor that keeps its context from message to message; each call gives one message's payload. */
function contextDeflater(): { compress: (s: string) => Promise<Buffer>; close: () => void } {
  const ctx = zlib.createDeflateRaw();
  return {
    async compress(s: string) {
      const chunks: Buffer[] = [];
      ctx.on("data", (d: Buffer) => chunks.push(d));
      ctx.write(s);
      await new Promise<void>((r) => ctx.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      ctx.removeAllListeners("data");
      const all = Buffer.concat(chunks);
      return all.subarray(0, all.length - 4);
    },
    close: () => ctx.close(),
  };
}

describe.each(RUNTIMES)("WebSocket on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "ws.mjs");
  });
  afterAll(() => server?.stop());
  beforeEach((ctx) => printStderrOnFailure(ctx, runtime, () => server));

  const connect = (path = "/echo", o?: Parameters<typeof WsRaw.connect>[2]) => WsRaw.connect(server.port, path, o);
  const closedRecord = async (id: string) => (await fetch(`${server.url}/closed?id=${id}`)).json();

  /** Expects the server to fail the connection with `code`: a close frame, then TCP closed. */
  async function expectFail(c: WsRaw, code: number): Promise<void> {
    const f = await c.next();
    expect([f.opcode, f.code]).toEqual([CLOSE, code]);
    await c.waitClosed();
  }

  describe("handshake", () => {
    it("answers a valid upgrade with 101 and the accept key, and a plain GET with the app", async () => {
      const c = await connect();
      expect(c.status).toBe(101);
      expect(c.headers.get("upgrade")?.toLowerCase()).toBe("websocket");
      expect(c.headers.get("connection")?.toLowerCase()).toBe("upgrade");
      expect(c.headers.get("sec-websocket-accept")).toBe(TEST_ACCEPT);
      expect(c.headers.has("sec-websocket-extensions")).toBe(false);
      c.destroy();
      expect(await (await fetch(`${server.url}/echo`)).text()).toBe("plain");
    });

    it("answers a missing or malformed key with 400", async () => {
      for (const key of [null, "", "c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZQ", "not base64 at all!!!!!=="]) {
        const c = await connect("/echo", { headers: { "sec-websocket-key": key } });
        expect(c.status, String(key)).toBe(400);
        c.destroy();
      }
    });

    it("answers any version but 13 with 426 and Sec-WebSocket-Version: 13", async () => {
      for (const v of ["12", "8", "14", "13, 8", null]) {
        const c = await connect("/echo", { headers: { "sec-websocket-version": v } });
        expect(c.status, String(v)).toBe(426);
        expect(c.headers.get("sec-websocket-version")).toBe("13");
        c.destroy();
      }
    });

    it("treats bytes after the request head in the same packet as frames", async () => {
      const extra = Buffer.concat([clientFrame(TEXT, "first"), clientFrame(BINARY, [1, 2, 3])]);
      const c = await connect("/echo", { extra });
      expect(c.status).toBe(101);
      const a = await c.next();
      const b = await c.next();
      expect([a.opcode, a.text]).toEqual([TEXT, "first"]);
      expect([b.opcode, Array.from(b.payload)]).toEqual([BINARY, [1, 2, 3]]);
      c.destroy();
    });

    it("selects a subprotocol the client offered, and none otherwise", async () => {
      const c = await connect("/echo?protocol=mqtt&protocol=chat", {
        headers: { "sec-websocket-protocol": "chat, superchat" },
      });
      expect(c.headers.get("sec-websocket-protocol")).toBe("chat");
      c.send(clientFrame(TEXT, "whoami"));
      const who = JSON.parse((await c.next()).text);
      expect(who).toMatchObject({ runtime, protocol: "chat", extensions: "" });
      expect(who.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/echo\?/);
      c.destroy();
      const d = await connect("/echo?protocol=mqtt", { headers: { "sec-websocket-protocol": "chat" } });
      expect(d.status).toBe(101);
      expect(d.headers.has("sec-websocket-protocol")).toBe(false);
      d.destroy();
    });
  });

  describe("frames", () => {
    it("echoes text and binary in order, with 16- and 64-bit lengths", async () => {
      const c = await connect();
      const big = new Uint8Array(70_000).map((_, i) => i % 251);
      c.send(Buffer.concat([clientFrame(TEXT, "héllo"), clientFrame(BINARY, big), clientFrame(TEXT, "x".repeat(300))]));
      expect((await c.next()).text).toBe("héllo");
      const b = await c.next();
      expect(b.opcode).toBe(BINARY);
      expect(Buffer.from(b.payload).equals(Buffer.from(big))).toBe(true);
      expect((await c.next()).text).toBe("x".repeat(300));
      c.destroy();
    });

    it("closes with 1002 on an unmasked client frame", async () => {
      const c = await connect();
      c.send(clientFrame(TEXT, "x", { mask: false }));
      await expectFail(c, 1002);
    });

    it("closes with 1002 on reserved bits, reserved opcodes and bad control frames", async () => {
      const bad: [string, Uint8Array][] = [
        ["RSV1 without an extension", clientFrame(TEXT, "x", { rsv: 4 })],
        ["RSV2", clientFrame(TEXT, "x", { rsv: 2 })],
        ["RSV3", clientFrame(BINARY, "x", { rsv: 1 })],
        ["opcode 3", clientFrame(3, "x")],
        ["opcode 0xB", clientFrame(0xb, "x")],
        ["fragmented ping", clientFrame(PING, "x", { fin: false })],
        ["126-byte ping", clientFrame(PING, "x".repeat(126))],
        ["126-byte close", clientFrame(CLOSE, "x".repeat(126))],
        ["continuation without a message", clientFrame(CONT, "x")],
        ["close code 1005 on the wire", clientFrame(CLOSE, closeBody(1005))],
        ["1-byte close payload", clientFrame(CLOSE, [3])],
      ];
      for (const [name, frame] of bad) {
        const c = await connect("/echo?compress=0", {
          headers: { "sec-websocket-extensions": "permessage-deflate" },
        });
        c.send(frame);
        const f = await c.next();
        expect([f.opcode, f.code], name).toEqual([CLOSE, 1002]);
        await c.waitClosed();
      }
      const c = await connect();
      c.send(Buffer.concat([clientFrame(TEXT, "a", { fin: false }), clientFrame(TEXT, "b")]));
      await expectFail(c, 1002);
    });

    it("closes with 1007 on invalid UTF-8 split across fragments, before the message ends", async () => {
      const c = await connect();
      c.send(clientFrame(TEXT, [0x68, 0xce], { fin: false }));
      c.send(clientFrame(CONT, [0xba, 0xf4], { fin: false }));
      await sleep(50);
      expect(c.pending()).toBe(0);
      expect(c.isOpen).toBe(true);
      // F4 90 is past U+10FFFF: the server must not wait for the final fragment.
      c.send(clientFrame(CONT, [0x90], { fin: false }));
      await expectFail(c, 1007);
    });

    it("closes with 1007 on invalid UTF-8 in a frame whose tail has not arrived, and in a close reason", async () => {
      const c = await connect();
      const frame = clientFrame(TEXT, Buffer.concat([Buffer.from([0x41, 0xc0, 0x80]), Buffer.alloc(10_000, 0x41)]));
      c.send(frame.subarray(0, 200));
      await expectFail(c, 1007);
      const d = await connect();
      d.send(clientFrame(CLOSE, Buffer.concat([closeBody(1000), Buffer.from([0xff])])));
      await expectFail(d, 1007);
    });

    it("closes with 1009 when a message exceeds maxPayload, fragmented or not", async () => {
      const c = await connect("/echo?maxPayload=1000");
      c.send(clientFrame(BINARY, new Uint8Array(1000)));
      expect((await c.next()).payload.byteLength).toBe(1000);
      c.send(clientFrame(BINARY, new Uint8Array(1001)));
      await expectFail(c, 1009);
      const d = await connect("/echo?maxPayload=1000");
      d.send(clientFrame(TEXT, "a".repeat(600), { fin: false }));
      d.send(clientFrame(CONT, "a".repeat(600)).subarray(0, 8)); // the header is enough
      await expectFail(d, 1009);
      // A 64-bit length of 2^40: refused from the header, nothing allocated.
      const e = await connect("/echo?maxPayload=1000");
      e.send(new Uint8Array([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
      await expectFail(e, 1009);
    });

    it("answers pings between fragments at once with the same payload, then the message", async () => {
      const c = await connect();
      c.send(clientFrame(TEXT, "Hel", { fin: false }));
      c.send(clientFrame(PING, "ping-1"));
      const pong = await c.next();
      expect([pong.opcode, pong.text]).toEqual([PONG, "ping-1"]);
      c.send(clientFrame(CONT, "lo", { fin: false }));
      c.send(clientFrame(PING, [0, 255, 1]));
      const pong2 = await c.next();
      expect([pong2.opcode, Array.from(pong2.payload)]).toEqual([PONG, [0, 255, 1]]);
      c.send(clientFrame(PONG, "unsolicited"));
      c.send(clientFrame(CONT, "!"));
      const m = await c.next();
      expect([m.opcode, m.text]).toEqual([TEXT, "Hello!"]);
      c.destroy();
    });
  });

  describe("close handshake", () => {
    it("echoes the client's close (code and reason), closes TCP first, and reports a clean close; the request group closes", async () => {
      const id = uniqueId("ws");
      const c = await connect(`/echo?id=${id}`);
      c.send(clientFrame(CLOSE, closeBody(4001, "client done")));
      const f = await c.next();
      expect([f.opcode, f.code, f.reason]).toEqual([CLOSE, 4001, "client done"]);
      await c.waitClosed();
      expect(c.gotEnd).toBe(true);
      expect(await closedRecord(id)).toEqual({
        opened: true,
        code: 4001,
        reason: "client done",
        wasClean: true,
        readyState: 3,
        groupClosed: true,
      });
    });

    it("server close(): close frame after queued messages, then TCP closed once the client echoes", async () => {
      const id = uniqueId("ws");
      const c = await connect(`/echo?id=${id}`);
      c.send(Buffer.concat([clientFrame(TEXT, "one"), clientFrame(TEXT, "close-me")]));
      expect((await c.next()).text).toBe("one");
      const f = await c.next();
      expect([f.opcode, f.code, f.reason]).toEqual([CLOSE, 4000, "as asked"]);
      await sleep(50);
      expect(c.isOpen).toBe(true);
      c.send(clientFrame(CLOSE, closeBody(4000, "ok")));
      await c.waitClosed();
      // The close event carries what the peer's close frame said (WHATWG), here the client's echo.
      expect(await closedRecord(id)).toMatchObject({ code: 4000, reason: "ok", wasClean: true, groupClosed: true });
    });

    it("reports 1006, not clean, when the client drops the connection", async () => {
      const id = uniqueId("ws");
      const c = await connect(`/echo?id=${id}`);
      c.send(clientFrame(TEXT, "hi"));
      await c.next();
      c.destroy();
      expect(await closedRecord(id)).toMatchObject({ code: 1006, wasClean: false, groupClosed: true });
    });

    it("reports the failure code and an error event after a protocol error", async () => {
      const id = uniqueId("ws");
      const c = await connect(`/echo?id=${id}`);
      c.send(clientFrame(TEXT, "x", { mask: false }));
      await expectFail(c, 1002);
      expect(await closedRecord(id)).toMatchObject({
        code: 1002,
        wasClean: false,
        error: "client frames must be masked",
        groupClosed: true,
      });
    });
  });

  describe("permessage-deflate", () => {
    const offer = (ext: string) => connect("/echo", { headers: { "sec-websocket-extensions": ext } });

    it("negotiates, inflates compressed messages and compresses large answers with context takeover", async () => {
      const c = await offer("permessage-deflate; client_max_window_bits");
      expect(c.headers.get("sec-websocket-extensions")).toBe("permessage-deflate; client_max_window_bits=15");
      // The client keeps its context: the second message refers back to the first.
      const { compress } = contextDeflater();
      const text = "the quick brown fox jumps over the lazy dog ".repeat(100);
      c.send(clientFrame(TEXT, await compress(text), { rsv: 4 }));
      c.send(clientFrame(TEXT, await compress(text), { rsv: 4 }));
      c.send(clientFrame(TEXT, "small, not compressed"));
      const inflater = zlib.createInflateRaw();
      const serverInflate = async (p: Uint8Array) => {
        const chunks: Buffer[] = [];
        inflater.on("data", (d: Buffer) => chunks.push(d));
        inflater.write(Buffer.concat([p, Buffer.from([0, 0, 255, 255])]));
        await new Promise<void>((r) => inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
        inflater.removeAllListeners("data");
        return Buffer.concat(chunks).toString();
      };
      const a = await c.next();
      const b = await c.next();
      expect([a.rsv, b.rsv]).toEqual([4, 4]);
      expect(await serverInflate(a.payload)).toBe(text);
      // With context takeover the server's second copy refers back into the first: smaller, and it cannot be
      // inflated on its own ("invalid distance too far back").
      expect(b.payload.byteLength).toBeLessThan(a.payload.byteLength);
      expect(() =>
        zlib.inflateRawSync(Buffer.concat([b.payload, Buffer.from([0, 0, 255, 255])]), {
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        })
      ).toThrow();
      expect(await serverInflate(b.payload)).toBe(text);
      const s = await c.next();
      expect([s.rsv, s.text]).toEqual([0, "small, not compressed"]);
      c.destroy();
    });

    it("honours server_no_context_takeover and server_max_window_bits", async () => {
      const c = await offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
      expect(c.headers.get("sec-websocket-extensions")).toBe(
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
      );
      const text = "abcdefghij".repeat(300);
      c.send(clientFrame(TEXT, deflate(text), { rsv: 4 }));
      c.send(clientFrame(TEXT, deflate(text), { rsv: 4 }));
      const a = await c.next();
      const b = await c.next();
      // Each message inflates on its own, with a fresh 1 KiB-window inflater.
      for (const f of [a, b]) {
        expect(f.rsv).toBe(4);
        const out = zlib.inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 255, 255])]), {
          windowBits: 10,
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        });
        expect(out.toString()).toBe(text);
      }
      c.destroy();
    });

    it("declines offers it cannot honour", async () => {
      const c = await offer("permessage-deflate; server_max_window_bits=8, permessage-deflate; foo=1");
      expect(c.status).toBe(101);
      expect(c.headers.has("sec-websocket-extensions")).toBe(false);
      c.send(clientFrame(TEXT, deflate("x".repeat(50)), { rsv: 4 }));
      await expectFail(c, 1002);
    });

    it("reads a compressed message split into fragments, and fails 1007 on invalid UTF-8 inside it", async () => {
      const c = await offer("permessage-deflate");
      const body = deflate("fragmented and compressed ".repeat(20));
      c.send(clientFrame(TEXT, body.subarray(0, 10), { rsv: 4, fin: false }));
      c.send(clientFrame(CONT, body.subarray(10)));
      // 520 bytes: under the 1 KiB threshold, the echo goes out uncompressed.
      const echo = await c.next();
      expect([echo.rsv, echo.text]).toEqual([0, "fragmented and compressed ".repeat(20)]);
      c.send(clientFrame(TEXT, deflate(Buffer.from([0x41, 0xff])), { rsv: 4 }));
      await expectFail(c, 1007);
    });

    // Deno's node:zlib calls flush()'s callback before it emits the error for
    // the same data: the codec had removed its error listener by then, and
    // one such frame killed the whole process (found with a Python client).
    it("fails 1007 on data that is not deflate, and on a back-reference after client_no_context_takeover; the server lives on", async () => {
      const c = await offer("permessage-deflate");
      c.send(clientFrame(BINARY, new Uint8Array([0xfa, 0xff, 0xff, 0xff, 0x00]), { rsv: 4 }));
      await expectFail(c, 1007);
      // The client agreed to reset its context after each message, then refers back into the last one.
      const d = await offer("permessage-deflate; client_no_context_takeover");
      expect(d.headers.get("sec-websocket-extensions")).toContain("client_no_context_takeover");
      const { compress, close } = contextDeflater();
      const text = "a message the second one refers back to ".repeat(20);
      d.send(clientFrame(TEXT, await compress(text), { rsv: 4 }));
      expect((await d.next()).text).toBe(text);
      d.send(clientFrame(TEXT, await compress(text), { rsv: 4 }));
      await expectFail(d, 1007);
      close();
      // Still serving, and the next compressed message on a new socket is fine.
      const e = await offer("permessage-deflate");
      e.send(clientFrame(TEXT, deflate("still here"), { rsv: 4 }));
      expect((await e.next()).text).toBe("still here");
      e.destroy();
      expect((await fetch(`${server.url}/stats`)).status).toBe(200);
    });

    it("keeps a message of 1-byte fragments in memory in proportion to its size", async () => {
      // Kept as a list of pieces, 2 MiB of 1-byte fragments cost the server
      // 200–840 MiB (binary) and 70–110 MiB (text); a few clients could
      // exhaust it while staying under maxPayload.
      const n = 2 << 20;
      const fragments = (first: number, byteAt: (i: number) => number) => {
        const wire = new Uint8Array(7 * n);
        for (let i = 0; i < n; i++) {
          // FIN only on the last; zero mask, so the payload byte goes as it is.
          wire.set([i === 0 ? first : i === n - 1 ? 0x80 : 0, 0x81, 0, 0, 0, 0, byteAt(i)], 7 * i);
        }
        return wire;
      };
      const rss = async () => (await (await fetch(`${server.url}/stats`)).json()).rss as number;
      const c = await connect(`/echo?maxPayload=${4 << 20}`);
      const before = await rss();
      c.send(fragments(BINARY, (i) => i & 0xff));
      const bin = await c.next(20_000);
      expect(bin.payload.byteLength).toBe(n);
      expect(bin.payload.every((b, i) => b === (i & 0xff))).toBe(true);
      // "é" is two bytes (C3 A9), each in a fragment of its own.
      c.send(fragments(TEXT, (i) => (i % 2 === 0 ? 0xc3 : 0xa9)));
      const text = await c.next(20_000);
      expect(text.text).toBe("é".repeat(n / 2));
      expect((await rss()) - before).toBeLessThan(64 << 20);
      c.destroy();
    }, 60_000);

    it("closes a compression bomb with 1009 without inflating it", async () => {
      const before = (await (await fetch(`${server.url}/stats`)).json()).rss;
      const c = await connect("/echo?maxPayload=1048576", {
        headers: { "sec-websocket-extensions": "permessage-deflate" },
      });
      // 256 MiB of zeros in about 250 KiB.
      const bomb = deflate(new Uint8Array(256 << 20));
      expect(bomb.byteLength).toBeLessThan(1 << 20);
      c.send(clientFrame(BINARY, bomb, { rsv: 4 }));
      await expectFail(c, 1009);
      const after = (await (await fetch(`${server.url}/stats`)).json()).rss;
      expect(after - before).toBeLessThan(32 << 20);
    });
  });

  // Reading was paused while the message inflated; after the failure it stayed
  // paused on Node (whose end() does not resume), so the client's close frame
  // and FIN went unread and the socket closed (and its close event fired) only
  // at the 5 s close timeout.
  it("a compressed message over maxPayload: the socket closes with the client, not at the close timeout", async () => {
    const id = uniqueId("ws");
    const c = await connect(`/echo?id=${id}&maxPayload=1000`, {
      headers: { "sec-websocket-extensions": "permessage-deflate" },
    });
    c.send(clientFrame(BINARY, deflate(new Uint8Array(64 << 10)), { rsv: 4 }));
    const began = Date.now();
    const f = await c.next();
    expect([f.opcode, f.code]).toEqual([CLOSE, 1009]);
    // The client answers with its close frame, as clients do (then its FIN).
    c.send(clientFrame(CLOSE, new Uint8Array([0x03, 0xf1])));
    await c.waitClosed();
    expect(await closedRecord(id)).toMatchObject({ code: 1009, wasClean: false });
    expect(Date.now() - began).toBeLessThan(2000);
  });

  it("pings after idleTimeout and closes with 1006 when no pong comes back", async () => {
    const id = uniqueId("ws");
    const c = await connect(`/echo?id=${id}&idleTimeout=0.3`);
    const ping = await c.next(3000);
    expect(ping.opcode).toBe(PING);
    await c.waitClosed(3000);
    expect(await closedRecord(id)).toMatchObject({ code: 1006, wasClean: false, groupClosed: true });
  });

  it("stays open past idleTimeout while the client answers pings, pinged at least once an idleTimeout", async () => {
    // A proxy that closes an upgraded connection idle for its read timeout
    // (nginx: 60 s) keeps it while pings come once an idleTimeout (30 s);
    // they came every 2 × idleTimeout.
    const c = await connect("/echo?idleTimeout=0.4");
    const until = Date.now() + 3000;
    const at: number[] = [];
    while (Date.now() < until) {
      const f = await c.nextOrClose(until - Date.now()).catch(() => undefined);
      if (f === undefined) break;
      expect(f?.opcode).toBe(PING);
      at.push(Date.now());
      c.send(clientFrame(PONG, f!.payload));
    }
    expect(at.length).toBeGreaterThanOrEqual(4);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    expect(Math.max(...gaps)).toBeLessThan(650); // 400 ms, and scheduling slack; it was 800
    expect(c.isOpen).toBe(true);
    c.send(clientFrame(TEXT, "still here"));
    expect((await c.next()).text).toBe("still here");
    c.destroy();
  });

  it("keeps memory bounded when clients stop reading and the sender waits on bufferedAmount", async () => {
    const stats = async (id = "") => (await fetch(`${server.url}/stats?id=${id}`)).json();
    /** Opens a flood of 1 GiB in 64 KiB messages, stops reading, and waits until the sender is held back. */
    const stall = async () => {
      const id = uniqueId("flood");
      const c = await connect(`/flood?id=${id}&size=65536&total=${1 << 30}`);
      c.socket.pause(); // stop reading: the kernel buffers fill, then the server's queue
      let s = await stats(id);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (s.flood === null || s.flood.waits < 50)) {
        await sleep(50);
        s = await stats(id);
      }
      expect(s.flood.waits).toBeGreaterThanOrEqual(50);
      return { c, id };
    };
    const gcStats = async () => {
      const s = await (await fetch(`${server.url}/stats?gc`)).json();
      expect(s.gc).toBe(true);
      return s;
    };
    // The first one warms up (JIT, heap); then eight more are measured.
    const first = await stall();
    const base = (await gcStats()).rss;
    const more = [];
    for (let i = 0; i < 8; i++) {
      more.push(await stall());
      // Collect between sockets, as a running server would now and then: each burst of frames handed to the
      // kernel before the stall is garbage, and without a collection every burst would add to the allocator's
      // high-water mark instead of reusing the last one's memory.
      await gcStats();
    }
    const atStall = await Promise.all(more.map(async ({ id }) => (await stats(id)).flood.sent));
    await sleep(500);
    const after = await Promise.all(more.map(async ({ id }) => (await stats(id)).flood));
    const rss = (await gcStats()).rss;
    for (let i = 0; i < after.length; i++) {
      expect(after[i].sent - atStall[i]).toBeLessThanOrEqual(2 << 20); // held back, not sending on
      expect(after[i].sent).toBeLessThan(64 << 20); // kernel buffers plus 1 MiB, far from 1 GiB
      expect(after[i].maxBuffered).toBeLessThanOrEqual((1 << 20) + 65536);
    }
    // A few MiB per stalled socket at most: its 1 MiB queue, the connection's 64 KiB, frames awaiting collection.
    expect((rss - base) / more.length).toBeLessThan(4 << 20);
    for (const { c } of [first, ...more]) c.destroy();
  });
});

describe.each(RUNTIMES)("WebSocket shutdown on %s", (runtime) => {
  it("a graceful shutdown closes open sockets with 1001 and waits for their echo", async () => {
    const server = await startServer(runtime, "ws.mjs");
    try {
      const c = await WsRaw.connect(server.port, "/echo");
      c.send(clientFrame(TEXT, "hi"));
      expect((await c.next()).text).toBe("hi");
      await fetch(`${server.url}/shutdown?mode=graceful`);
      const f = await c.next();
      expect([f.opcode, f.code]).toEqual([CLOSE, 1001]);
      c.send(clientFrame(CLOSE, closeBody(1001)));
      await c.waitClosed();
      const exited = await new Promise<boolean>((r) => {
        if (server.child.exitCode !== null) return r(true);
        server.child.once("exit", () => r(true));
        setTimeout(() => r(false), 5000);
      });
      expect(exited).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it("an immediate shutdown drops open sockets", async () => {
    const server = await startServer(runtime, "ws.mjs");
    try {
      const c = await WsRaw.connect(server.port, "/echo");
      c.send(clientFrame(TEXT, "hi"));
      expect((await c.next()).text).toBe("hi");
      await fetch(`${server.url}/shutdown?mode=now`);
      await c.waitClosed();
      expect(c.pending()).toBe(0); // no close frame
    } finally {
      await server.stop();
    }
  });
});
