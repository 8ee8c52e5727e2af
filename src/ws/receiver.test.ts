import { describe, expect, it } from "vitest";
import { clientFrame, closeBody } from "../../test/helpers/ws_frames.ts";
import { DeflateCodec, negotiateDeflate } from "./deflate.ts";
import { Receiver, type ReceiverSink } from "./receiver.ts";
import zlib from "node:zlib";

type Ev = [string, ...unknown[]];

function setup(maxPayload = 1 << 20, deflate = false) {
  const events: Ev[] = [];
  let paused = 0;
  const sink: ReceiverSink = {
    onText: (t) => events.push(["text", t]),
    onBinary: (b) => events.push(["binary", Array.from(b)]),
    onPing: (p) => events.push(["ping", new TextDecoder().decode(p)]),
    onPong: (p) => events.push(["pong", new TextDecoder().decode(p)]),
    onCloseFrame: (c, r) => events.push(["close", c, r]),
    onProtocolError: (c, r) => events.push(["fail", c, r]),
    pause: () => paused++,
    resume: () => paused--,
  };
  const codec = deflate ? new DeflateCodec(negotiateDeflate("permessage-deflate")!) : undefined;
  const r = new Receiver(sink, maxPayload, codec);
  return { r, events, paused: () => paused };
}

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.byteLength;
  return out;
};

describe("Receiver", () => {
  it("reads text and binary frames, in one chunk or byte by byte", () => {
    const wire = cat(clientFrame(1, "héllo"), clientFrame(2, [1, 2, 3]), clientFrame(1, "x".repeat(300)));
    for (const step of [wire.byteLength, 1, 7]) {
      const { r, events } = setup();
      for (let i = 0; i < wire.byteLength; i += step) r.push(wire.subarray(i, i + step));
      expect(events).toEqual([["text", "héllo"], ["binary", [1, 2, 3]], ["text", "x".repeat(300)]]);
    }
  });

  it("reads 16- and 64-bit lengths and unmasks any alignment", () => {
    const big = new Uint8Array(70000).map((_, i) => i * 7);
    const { r, events } = setup();
    const wire = clientFrame(2, big);
    r.push(wire.subarray(0, 13));
    r.push(wire.subarray(13, 40001));
    r.push(wire.subarray(40001));
    expect(events).toHaveLength(1);
    expect(new Uint8Array(events[0][1] as number[])).toEqual(big);
    const { r: r2, events: e2 } = setup();
    r2.push(clientFrame(1, "abc", { lengthBytes: 8 }));
    expect(e2).toEqual([["text", "abc"]]);
  });

  it("reassembles fragments of every size, whole or split across reads, into a buffer of the message's own", () => {
    const sizes = [1, 0, 3, 1000, 70000, 1, 2048];
    const bytes = sizes.map((n, k) => new Uint8Array(n).map((_, i) => i * 13 + k));
    const text = ["é", "", "ab", "ü".repeat(500), "x".repeat(70000), "€", "y".repeat(2048)];
    for (const [opcode, pieces] of [[2, bytes], [1, text.map((t) => new TextEncoder().encode(t))]] as const) {
      const wire = cat(...pieces.map((p, k) => clientFrame(k === 0 ? opcode : 0, p, { fin: k === pieces.length - 1 })));
      for (const step of [wire.byteLength, 4096, 5]) {
        const got: (string | Uint8Array)[] = [];
        const r = new Receiver({
          onText: (t) => got.push(t),
          onBinary: (b) => got.push(b),
          onPing() {},
          onPong() {},
          onCloseFrame() {},
          onProtocolError: (c, why) => got.push(`fail ${c} ${why}`),
          pause() {},
          resume() {},
        }, 1 << 20);
        for (let i = 0; i < wire.byteLength; i += step) r.push(wire.subarray(i, i + step));
        expect(got).toHaveLength(1);
        if (opcode === 1) expect(got[0]).toBe(text.join(""));
        else {
          const b = got[0] as Uint8Array;
          expect(b).toEqual(cat(...bytes));
          expect([b.byteOffset, b.buffer.byteLength]).toEqual([0, b.byteLength]); // nothing more behind it
        }
      }
    }
  });

  it("gives each empty binary message a buffer of its own", () => {
    const got: Uint8Array[] = [];
    const r = new Receiver({
      onText() {},
      onBinary: (b) => got.push(b),
      onPing() {},
      onPong() {},
      onCloseFrame() {},
      onProtocolError() {},
      pause() {},
      resume() {},
    }, 1024);
    r.push(cat(clientFrame(2, []), clientFrame(2, [], { fin: false }), clientFrame(0, [])));
    expect(got.map((b) => b.byteLength)).toEqual([0, 0]);
    expect(got[0].buffer).not.toBe(got[1].buffer); // a handler may transfer or keep its buffer
  });

  it("reassembles fragments and answers pings between them", () => {
    const { r, events } = setup();
    r.push(clientFrame(1, "Hel", { fin: false }));
    r.push(clientFrame(9, "p1"));
    r.push(clientFrame(0, "lo ", { fin: false }));
    r.push(clientFrame(10, "p2"));
    r.push(clientFrame(0, "world"));
    expect(events).toEqual([["ping", "p1"], ["pong", "p2"], ["text", "Hello world"]]);
  });

  it("fails with 1002 on protocol violations", () => {
    const cases: [string, Uint8Array][] = [
      ["unmasked", clientFrame(1, "x", { mask: false })],
      ["rsv1 without extension", clientFrame(1, "x", { rsv: 4 })],
      ["rsv2", clientFrame(1, "x", { rsv: 2 })],
      ["rsv3", clientFrame(2, "x", { rsv: 1 })],
      ["reserved data opcode", clientFrame(3, "x")],
      ["reserved control opcode", clientFrame(0xb, "x")],
      ["fragmented ping", clientFrame(9, "x", { fin: false })],
      ["long ping", clientFrame(9, "x".repeat(126))],
      ["lone continuation", clientFrame(0, "x")],
      ["close with 1 byte", clientFrame(8, [3])],
      ["close code 1005", clientFrame(8, closeBody(1005))],
      ["close code 999", clientFrame(8, closeBody(999))],
      ["close code 1015", clientFrame(8, closeBody(1015))],
      ["close code 5000", clientFrame(8, closeBody(5000))],
    ];
    for (const [name, wire] of cases) {
      const { r, events } = setup();
      r.push(wire);
      expect(events.map((e) => e.slice(0, 2)), name).toEqual([["fail", 1002]]);
    }
    const { r, events } = setup();
    r.push(clientFrame(1, "a", { fin: false }));
    r.push(clientFrame(2, "b"));
    expect(events.map((e) => e.slice(0, 2))).toEqual([["fail", 1002]]);
  });

  it("fails on a bad header before the payload arrives", () => {
    const { r, events } = setup();
    r.push(clientFrame(1, "x".repeat(1000), { mask: false }).subarray(0, 2));
    expect(events.map((e) => e[0])).toEqual(["fail"]);
    const { r: r2, events: e2 } = setup();
    r2.push(clientFrame(9, "x", { fin: false }).subarray(0, 1));
    r2.push(new Uint8Array([0x81]));
    expect(e2.map((e) => e.slice(0, 2))).toEqual([["fail", 1002]]);
  });

  it("fails with 1007 on invalid UTF-8 as soon as it arrives, across fragments", () => {
    const { r, events } = setup();
    // Valid so far: "κ" split across fragments.
    r.push(clientFrame(1, [0x68, 0xce], { fin: false }));
    r.push(clientFrame(0, [0xba], { fin: false }));
    expect(events).toEqual([]);
    // F4 90 is beyond U+10FFFF: fails on the second fragment, before the message ends.
    r.push(clientFrame(0, [0xf4], { fin: false }));
    expect(events).toEqual([]);
    r.push(clientFrame(0, [0x90], { fin: false }));
    expect(events.map((e) => e.slice(0, 2))).toEqual([["fail", 1007]]);

    // Within one frame whose tail has not arrived yet.
    const { r: r2, events: e2 } = setup();
    const wire = clientFrame(1, cat(new Uint8Array([0x41, 0xff]), new Uint8Array(5000).fill(0x41)));
    r2.push(wire.subarray(0, 100));
    expect(e2.map((e) => e.slice(0, 2))).toEqual([["fail", 1007]]);

    // A message that ends inside a sequence.
    const { r: r3, events: e3 } = setup();
    r3.push(clientFrame(1, [0x41, 0xe2, 0x82]));
    expect(e3.map((e) => e.slice(0, 2))).toEqual([["fail", 1007]]);

    // An invalid close reason.
    const { r: r4, events: e4 } = setup();
    r4.push(clientFrame(8, cat(closeBody(1000), new Uint8Array([0xc0, 0x80]))));
    expect(e4.map((e) => e.slice(0, 2))).toEqual([["fail", 1007]]);
  });

  it("fails with 1009 when a message exceeds maxPayload, from its header", () => {
    const { r, events } = setup(1000);
    r.push(clientFrame(2, new Uint8Array(1000)));
    expect(events).toHaveLength(1);
    r.push(clientFrame(2, new Uint8Array(600), { fin: false }).subarray(0, 8));
    expect(events).toHaveLength(1);
    const { r: r2, events: e2 } = setup(1000);
    r2.push(clientFrame(2, new Uint8Array(600), { fin: false }));
    // The second fragment's header alone is enough to know.
    r2.push(clientFrame(0, new Uint8Array(600)).subarray(0, 8));
    expect(e2.map((e) => e.slice(0, 2))).toEqual([["fail", 1009]]);
    // A 64-bit length of 2^62 fails without allocating.
    const { r: r3, events: e3 } = setup(1000);
    const head = new Uint8Array([0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    r3.push(head);
    expect(e3.map((e) => e.slice(0, 2))).toEqual([["fail", 1009]]);
    const { r: r4, events: e4 } = setup(1000);
    r4.push(new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]));
    expect(e4.map((e) => e.slice(0, 2))).toEqual([["fail", 1002]]);
  });

  it("reads close frames, with and without a code, and nothing after them", () => {
    const { r, events } = setup();
    r.push(cat(clientFrame(8, closeBody(4000, "bye")), clientFrame(1, "after")));
    expect(events).toEqual([["close", 4000, "bye"]]);
    const { r: r2, events: e2 } = setup();
    r2.push(clientFrame(8));
    expect(e2).toEqual([["close", 1005, ""]]);
  });

  it("inflates compressed messages in order, with frames behind them held", async () => {
    const { r, events, paused } = setup(1 << 20, true);
    const text = "hello ".repeat(100);
    const c = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const body = c.subarray(0, c.length - 4);
    r.push(cat(clientFrame(1, body, { rsv: 4 }), clientFrame(1, "plain"), clientFrame(9, "p")));
    expect(paused()).toBe(1);
    await new Promise((res) => setTimeout(res, 50));
    expect(events).toEqual([["text", text], ["text", "plain"], ["ping", "p"]]);
    expect(paused()).toBe(0);
  });

  it("fails with 1009 on a compression bomb, after reading no more than the limit", async () => {
    const { r, events } = setup(1 << 20, true);
    const c = zlib.deflateRawSync(new Uint8Array(64 << 20), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(c.byteLength).toBeLessThan(1 << 20);
    r.push(clientFrame(2, c.subarray(0, c.length - 4), { rsv: 4 }));
    await new Promise((res) => setTimeout(res, 100));
    expect(events.map((e) => e.slice(0, 2))).toEqual([["fail", 1009]]);
  });

  it("fails with 1007 on corrupt compressed data and on invalid UTF-8 inside it", async () => {
    const { r, events } = setup(1 << 20, true);
    r.push(clientFrame(1, [0xff, 0xff, 0xff, 0xff], { rsv: 4 }));
    await new Promise((res) => setTimeout(res, 50));
    expect(events.map((e) => e.slice(0, 2))).toEqual([["fail", 1007]]);
    const { r: r2, events: e2 } = setup(1 << 20, true);
    const c = zlib.deflateRawSync(Buffer.from([0x41, 0xff, 0x41]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    r2.push(clientFrame(1, c.subarray(0, c.length - 4), { rsv: 4 }));
    await new Promise((res) => setTimeout(res, 50));
    expect(e2.map((e) => e.slice(0, 2))).toEqual([["fail", 1007]]);
  });
});
