/**
 * Small read buffers cut from shared slabs, for the Deno adapter.
 *
 * Deno reads into a buffer the caller provides, so every open connection
 * keeps one while its read waits, idle keep-alive connections included. A
 * buffer of its own costs a connection far more than its bytes: V8 keeps an
 * `ArrayBuffer` object and, outside the heap, a backing-store record and a
 * `malloc` block per buffer. RSS per idle connection, portico on Deno, 30 s
 * after 10,000 opened: 128-byte buffers of their own kept ~0.3 KiB more than
 * 64-byte ones, for 64 bytes of data (issue 17). A view of a shared
 * `ArrayBuffer` costs the view alone.
 *
 * Guarantees: a slot is never handed out twice while taken; a slab whose
 * slots are all free is let go (but the last one of each size), so that the
 * memory of a burst of connections returns once they close. Not guaranteed:
 * anything about a slot given back while a read still writes into it. The
 * caller gives a slot back only once no read is in flight on it.
 *
 * @module
 */

/** Slot sizes served from slabs: powers of two from 128 bytes to 1 KiB. */
export const SLOT_SIZES: readonly number[] = [128, 256, 512, 1024];

// Bytes per slab: a few dozen connections' worth. Larger slabs are freed
// less often after a burst (one taken slot keeps the whole slab).
const SLAB_BYTES = 16 * 1024;

/** One slab: its memory, the offsets of its free slots, how many are taken. @internal */
export class Slab {
  readonly memory: ArrayBuffer;
  readonly size: number;
  readonly free: number[] = [];
  taken = 0;

  constructor(size: number) {
    this.memory = new ArrayBuffer(SLAB_BYTES);
    this.size = size;
    for (let off = SLAB_BYTES - size; off >= 0; off -= size) this.free.push(off);
  }
}

// Per slot size (index in SLOT_SIZES): the slabs with a free slot.
const open: Slab[][] = SLOT_SIZES.map(() => []);

/** A slot: the view to read into and the slab to give it back to. */
export interface Slot {
  view: Uint8Array;
  slab: Slab;
}

function sizeIndex(size: number): number {
  const i = SLOT_SIZES.indexOf(size);
  if (i < 0) throw new RangeError(`no slab slots of ${size} bytes`);
  return i;
}

/**
 * Takes a free slot of `size` bytes (one of {@link SLOT_SIZES}).
 *
 * @example
 * ```ts
 * import { giveBack, takeSlot } from "./read_slabs.ts";
 * const slot = takeSlot(128);
 * slot.view.length; // 128
 * giveBack(slot.slab, slot.view);
 * ```
 */
export function takeSlot(size: number): Slot {
  const slabs = open[sizeIndex(size)];
  let slab = slabs[slabs.length - 1];
  if (slab === undefined) slabs.push(slab = new Slab(size));
  const offset = slab.free.pop()!;
  slab.taken++;
  if (slab.free.length === 0) slabs.pop(); // full: out of the open list
  return { view: new Uint8Array(slab.memory, offset, size), slab };
}

/** Gives back a slot taken with {@link takeSlot}; no read may be in flight on it. */
export function giveBack(slab: Slab, view: Uint8Array): void {
  const slabs = open[sizeIndex(slab.size)];
  if (slab.free.length === 0) slabs.push(slab); // was full: open again
  slab.free.push(view.byteOffset);
  slab.taken--;
  if (slab.taken === 0 && slabs.length > 1) slabs.splice(slabs.indexOf(slab), 1);
}

/** How many slabs of `size` have a free slot (for tests). @internal */
export function openSlabs(size: number): number {
  return open[sizeIndex(size)].length;
}
