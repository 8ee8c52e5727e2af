import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ResourceGroup } from "../groups/group.ts";
import { fileStream, requestOwner } from "./stream.ts";

const dir = mkdtempSync(join(tmpdir(), "portico-stream-"));
const file = join(dir, "data.bin");
const data = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
writeFileSync(file, data);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Opens the file and counts real closes. */
async function counted(): Promise<{ handle: FileHandle; closes: () => number }> {
  const handle = await open(file);
  let closes = 0;
  const close = handle.close.bind(handle);
  handle.close = () => {
    closes++;
    return close();
  };
  return { handle, closes: () => closes };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

describe("fileStream", () => {
  it("streams a byte range in chunks and closes the handle once at the end", async () => {
    const { handle, closes } = await counted();
    const group = new ResourceGroup();
    const body = await readAll(fileStream(handle, 1000, 250_999, group));
    expect(body).toEqual(data.subarray(1000, 251_000));
    expect(closes()).toBe(1);
    await group.shutdown(); // the adopted closer runs again: still one real close
    expect(closes()).toBe(1);
  });

  it("fills a BYOB reader's own buffer, which the reader can recycle", async () => {
    const { handle, closes } = await counted();
    const reader = fileStream(handle, 5, 200_004, null).getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(10_000);
    const parts: number[] = [];
    let ok = true;
    let at = 5;
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done) break;
      for (let i = 0; i < value.byteLength; i++) if (value[i] !== data[at + i]) ok = false;
      at += value.byteLength;
      parts.push(value.byteLength);
      buffer = value.buffer; // the same memory, handed back
    }
    expect(ok).toBe(true);
    expect(at).toBe(200_005);
    expect(Math.max(...parts)).toBeLessThanOrEqual(10_000);
    expect(closes()).toBe(1);
  });

  it("closes on cancel", async () => {
    const { handle, closes } = await counted();
    const reader = fileStream(handle, 0, data.length - 1, null).getReader();
    await reader.read();
    await reader.cancel();
    expect(closes()).toBe(1);
  });

  it("closes when the owning group shuts down mid-stream, and the stream then errors", async () => {
    const { handle, closes } = await counted();
    const group = new ResourceGroup();
    const reader = fileStream(handle, 0, data.length - 1, group).getReader();
    await reader.read();
    await group.shutdown();
    expect(closes()).toBe(1);
    // one chunk may already be queued; after that the stream errors
    await expect((async () => {
      for (;;) if ((await reader.read()).done) return "done";
    })()).rejects.toThrow();
    expect(closes()).toBe(1);
  });

  it("an empty range closes at once", async () => {
    const { handle, closes } = await counted();
    expect((await readAll(fileStream(handle, 0, -1, null))).byteLength).toBe(0);
    expect(closes()).toBe(1);
  });

  it("errors when the file is shorter than the range", async () => {
    const { handle, closes } = await counted();
    await expect(readAll(fileStream(handle, 0, data.length + 10, null))).rejects.toThrow(/shorter/);
    expect(closes()).toBe(1);
  });
});

describe("requestOwner", () => {
  it("takes info.group, else the current group, else none", () => {
    const g = new ResourceGroup();
    expect(requestOwner({ group: g })).toBe(g);
    expect(requestOwner(undefined)).toBeNull();
    expect(requestOwner({ group: "not a group" })).toBeNull();
    const h = new ResourceGroup();
    expect(h.run(() => requestOwner({}))).toBe(h);
  });
});
