import { describe, expect, it } from "vitest";
import { allocateShared, joinShared, preferOwnBuffers } from "./bytes.ts";

// Its own file: preferOwnBuffers() holds for the rest of the module's life.
describe("preferOwnBuffers", () => {
  it("makes small buffers stores of their own, zero-filled, from then on", () => {
    const before = allocateShared(130);
    expect(before.buffer.byteLength).toBeGreaterThan(130); // a view of a slab
    preferOwnBuffers();
    for (const n of [0, 1, 130, 4096]) {
      const b = allocateShared(n);
      expect(b.byteOffset).toBe(0);
      expect(b.buffer.byteLength).toBe(n);
      expect(b.every((x) => x === 0)).toBe(true);
    }
    const joined = joinShared([new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect([...joined]).toEqual([1, 2, 3]);
    expect(joined.buffer.byteLength).toBe(3);
  });
});
