import { describe, expect, it } from "vitest";
import { HIGH_WATER, JOIN_LIMIT, WriteQueue } from "../../adapters/write_queue.ts";

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe("WriteQueue (the Deno and Bun adapters' send queue)", () => {
  it("joins small chunks into one write and keeps large ones as they are", () => {
    const q = new WriteQueue();
    q.push(bytes(3, 1));
    q.push(bytes(2, 2));
    const joined = q.take();
    expect(joined.map((c) => [...c])).toEqual([[1, 1, 1, 2, 2]]);
    expect(q.pending).toBe(false);
    const big = bytes(JOIN_LIMIT);
    const small = bytes(1);
    q.push(big);
    q.push(small);
    const batch = q.take();
    expect(batch[0]).toBe(big); // not copied
    expect(batch[1]).toBe(small);
  });

  it("counts bytes until they are written, and owes one onDrain after backpressure", () => {
    const q = new WriteQueue();
    expect(q.push(bytes(HIGH_WATER - 1))).toBe(true);
    expect(q.push(bytes(1))).toBe(false); // at the mark: wait for onDrain
    const batch = q.take();
    expect(q.bytes).toBe(HIGH_WATER); // taken, not yet written
    expect(q.drained()).toBe(false);
    q.written(batch[0]!.byteLength);
    expect(q.drained()).toBe(true);
    expect(q.drained()).toBe(false); // once
    q.written(batch[1]!.byteLength);
    expect(q.bytes).toBe(0);
  });

  it("puts back what a partial write left ahead of what came since", () => {
    const q = new WriteQueue();
    const big = bytes(JOIN_LIMIT + 1, 7);
    q.push(big);
    const [first] = q.take();
    q.written(10);
    q.push(bytes(1, 9));
    q.putBack([first!.subarray(10)]);
    expect(q.bytes).toBe(JOIN_LIMIT + 2 - 10);
    const rest = q.take();
    expect(rest.reduce((n, c) => n + c.byteLength, 0)).toBe(JOIN_LIMIT + 2 - 10);
    expect(rest[0]![0]).toBe(7); // the remainder first
    expect(rest.at(-1)!.at(-1)).toBe(9); // then what came since
  });

  it("hands the usual single chunk over as it is, joins small ones, and leaves large ones to take()", () => {
    const q = new WriteQueue();
    expect(q.takeOne()).toBe(null);
    const only = bytes(4, 3);
    q.push(only);
    expect(q.takeOne()).toBe(only); // the same chunk: no copy, no array
    expect(q.pending).toBe(false);
    expect(q.bytes).toBe(4); // counted until written
    q.written(4);
    q.push(bytes(2, 1));
    q.push(bytes(1, 2));
    q.push(bytes(1, 3));
    expect([...q.takeOne()!]).toEqual([1, 1, 2, 3]);
    const big = bytes(JOIN_LIMIT, 5);
    q.push(big);
    q.push(bytes(1, 6));
    expect(q.takeOne()).toBe(null); // too large to join: nothing taken
    expect(q.pending).toBe(true);
    const batch = q.take();
    expect(batch[0]).toBe(big);
    expect(batch[1]![0]).toBe(6);
  });

  it("puts a single remainder back in front of one chunk queued since, in order", () => {
    const q = new WriteQueue();
    q.push(bytes(3, 1));
    const first = q.takeOne()!;
    q.written(1);
    q.push(bytes(2, 2));
    q.putBack([first.subarray(1)]);
    expect([...q.takeOne()!]).toEqual([1, 1, 2, 2]);
    q.putBack([bytes(1, 4)]); // into an empty queue: the single-chunk form again
    expect([...q.takeOne()!]).toEqual([4]);
    expect(q.pending).toBe(false);
  });

  it("nests cork() and releases on the last uncork() or at once with uncorkAll()", () => {
    const q = new WriteQueue();
    q.cork();
    q.cork();
    expect(q.corked).toBe(true);
    expect(q.uncork()).toBe(false);
    expect(q.uncork()).toBe(true);
    expect(q.uncork()).toBe(false); // more uncorks than corks do nothing
    q.cork();
    q.cork();
    q.uncorkAll();
    expect(q.corked).toBe(false);
  });

  it("drops everything on clear()", () => {
    const q = new WriteQueue();
    q.cork();
    q.push(bytes(5));
    q.clear();
    expect([q.bytes, q.pending, q.corked]).toEqual([0, false, false]);
  });
});
