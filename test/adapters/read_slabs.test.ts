import { describe, expect, it } from "vitest";
import { giveBack, openSlabs, SLOT_SIZES, takeSlot } from "../../adapters/read_slabs.ts";

describe("read slabs", () => {
  it("hands out disjoint slots of the asked size, and each again only once given back", () => {
    for (const size of SLOT_SIZES) {
      const slots = Array.from({ length: 300 }, () => takeSlot(size));
      for (const [k, s] of slots.entries()) {
        expect(s.view.length).toBe(size);
        s.view.fill(k & 0xff);
      }
      // No two taken slots overlap: each still holds what was written into it.
      for (const [k, s] of slots.entries()) expect(s.view.every((b) => b === (k & 0xff)), `${size}/${k}`).toBe(true);
      const back = slots.splice(0, 100);
      for (const s of back) giveBack(s.slab, s.view);
      const again = Array.from({ length: 100 }, () => takeSlot(size));
      const inUse = new Map<ArrayBufferLike, Set<number>>();
      for (const s of [...slots, ...again]) {
        const offsets = inUse.get(s.view.buffer) ?? new Set();
        expect(offsets.has(s.view.byteOffset), `${size}@${s.view.byteOffset}`).toBe(false);
        offsets.add(s.view.byteOffset);
        inUse.set(s.view.buffer, offsets);
      }
      for (const s of [...slots, ...again]) giveBack(s.slab, s.view);
    }
  });

  it("lets go of slabs whose slots are all free, keeping one per size", () => {
    const slots = Array.from({ length: 2000 }, () => takeSlot(128));
    expect(openSlabs(128)).toBeLessThanOrEqual(1);
    for (const s of slots) giveBack(s.slab, s.view);
    expect(openSlabs(128)).toBe(1);
  });

  it("refuses sizes it does not serve", () => {
    expect(() => takeSlot(100)).toThrow(RangeError);
    expect(() => takeSlot(2048)).toThrow(RangeError);
  });
});
