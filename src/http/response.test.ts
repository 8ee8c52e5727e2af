import { describe, expect, it, vi } from "vitest";
import { allocateShared, joinShared } from "./bytes.ts";
import { encodeAscii, encodeChunk, encodeHead, holdDateClock, httpDate } from "./response.ts";

const text = (b: Uint8Array) => String.fromCharCode(...b);

describe("wire encoding", () => {
  it("encodes an ASCII head and its body into one buffer", () => {
    const out = encodeHead("HTTP/1.1 200 OK\r\n\r\n", new Uint8Array([0x68, 0x69]));
    expect(text(out)).toBe("HTTP/1.1 200 OK\r\n\r\nhi");
  });

  it("writes a head with latin1 characters one byte each, not as UTF-8", () => {
    const out = encodeHead("x-a: caf\u00e9\r\n", new Uint8Array([0x21]));
    expect([...out]).toEqual([...Array.from("x-a: caf\u00e9\r\n", (c) => c.charCodeAt(0)), 0x21]);
  });

  it("encodes ASCII text, and declines anything else", () => {
    expect(text(encodeAscii("abc\r\n")!)).toBe("abc\r\n");
    expect(encodeAscii("caf\u00e9")).toBeNull();
    expect(encodeAscii("\u2713")).toBeNull();
    expect(encodeAscii("")!.length).toBe(0);
  });

  it("frames a chunk", () => {
    expect(text(encodeChunk(new Uint8Array(26).fill(0x61)))).toBe("1a\r\n" + "a".repeat(26) + "\r\n");
  });

  it("hands out small buffers that never overlap, and large ones of their own", () => {
    const seen: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const b = allocateShared(1 + (i % 300));
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill(i % 251);
      seen.push(b);
    }
    seen.forEach((b, i) => expect(b.every((x) => x === i % 251)).toBe(true));
    const big = allocateShared(1 << 20);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(1 << 20);
    expect([...joinShared([new Uint8Array([1, 2]), new Uint8Array([3])])]).toEqual([1, 2, 3]);
  });

  it("formats Date once per second, and moves on with the clock", async () => {
    const a = httpDate();
    expect(new Date(Date.parse(a)).toUTCString()).toBe(a);
    expect(Math.abs(Date.parse(a) - Date.now())).toBeLessThan(1500);
    expect(httpDate()).toBe(a);
    await new Promise((r) => setTimeout(r, 1100));
    expect(Date.parse(httpDate())).toBeGreaterThan(Date.parse(a));
  });

  it("follows a clock set back, rather than keep a date from the future", () => {
    const now = vi.spyOn(Date, "now");
    try {
      now.mockReturnValue(Date.parse("2031-05-06T07:08:09.500Z"));
      expect(httpDate()).toBe("Tue, 06 May 2031 07:08:09 GMT");
      now.mockReturnValue(Date.parse("2031-05-06T07:08:08.999Z")); // back by half a second and more
      expect(httpDate()).toBe("Tue, 06 May 2031 07:08:08 GMT");
      now.mockReturnValue(Date.parse("2026-01-02T03:04:05.000Z")); // back by years
      expect(httpDate()).toBe("Fri, 02 Jan 2026 03:04:05 GMT");
      now.mockReturnValue(Date.parse("2026-01-02T03:04:05.999Z"));
      expect(httpDate()).toBe("Fri, 02 Jan 2026 03:04:05 GMT");
    } finally {
      now.mockRestore();
    }
  });
});

describe("the Date field's clock", () => {
  // Real timers: the clock's timer comes from node:timers, which vitest's fake timers leave alone.
  it("reads no clock while held, turns with the second by its timer, and reads it again once released", async () => {
    const release = holdDateClock();
    const first = httpDate();
    const now = vi.spyOn(Date, "now");
    for (let i = 0; i < 5; i++) expect(httpDate()).toBe(first);
    expect(now).not.toHaveBeenCalled();
    now.mockRestore();
    await new Promise((r) => setTimeout(r, 1100));
    const later = httpDate();
    expect(later).not.toBe(first);
    expect(Math.abs(Date.parse(later) - Date.now())).toBeLessThan(1500);
    const second = holdDateClock();
    release();
    release(); // a second call does nothing
    const held = vi.spyOn(Date, "now");
    httpDate();
    expect(held).not.toHaveBeenCalled(); // `second` still holds it
    second();
    httpDate();
    expect(held).toHaveBeenCalled(); // unheld: the clock is read
    held.mockRestore();
  });
});
