/**
 * Byte helpers: small buffers for the wire, joining chunks, and reading a
 * stream whole within a limit.
 *
 * @module
 */

// Node and Deno give every new typed array its own off-heap store: about
// 0.6 µs even for 100 bytes, more than the rest of encoding a response head
// (Bun's cost is ~20 ns). Small buffers bound for a socket are therefore cut
// from a shared slab, as Node's Buffer pool does. A slab is never written
// twice: a view keeps its whole slab alive until the view is collected, so a
// send queue may pin up to SLAB_BYTES per queued small write. Bytes the core
// keeps and charges to a byte budget are not cut from it (the budget would
// count the view, not the slab).
//
// Bun is the other way round: there a small typed array lives in the
// garbage-collected heap and costs less than a view of a slab (130 bytes:
// ~15 ns against ~45; the slab's `subarray` was 8% of the core's time per
// request on Bun). Its adapter asks for buffers of their own
// ({@link preferOwnBuffers}).
const SLAB_BYTES = 32 * 1024;
const SLAB_MAX = 4 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;
let ownBuffers = false;

/**
 * From now on, {@link allocateShared} gives every buffer a store of its
 * own. For the adapter of a runtime where that costs less than a view of a
 * slab (Bun's); it changes the speed of the process's servers, not what
 * they send.
 *
 * @example
 * ```ts
 * import { allocateShared, preferOwnBuffers } from "./bytes.ts";
 * preferOwnBuffers();
 * console.log(allocateShared(130).byteOffset); // 0: not a view of a slab
 * ```
 */
export function preferOwnBuffers(): void {
  ownBuffers = true;
}

/**
 * A zero-filled buffer of `n` bytes that the server keeps to itself. Small
 * ones share an `ArrayBuffer` with other such buffers, so the result must
 * never reach user code, whose `.buffer` would show them.
 */
export function allocateShared(n: number): Uint8Array {
  if (n > SLAB_MAX || ownBuffers) return new Uint8Array(n);
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return out;
}

/** Joins chunks into one buffer from {@link allocateShared}. */
export function joinShared(parts: Uint8Array[]): Uint8Array {
  return copyInto(parts, allocateShared(byteLengthOf(parts)));
}

function byteLengthOf(parts: Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}

function copyInto<T extends Uint8Array>(parts: Uint8Array[], out: T): T {
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Joins chunks into one new buffer (or returns the only chunk when it owns its whole buffer). */
export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0].byteOffset === 0 && parts[0].byteLength === parts[0].buffer.byteLength) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  return copyInto(parts, new Uint8Array(byteLengthOf(parts)));
}

/**
 * Reads `stream` to the end. Past `limit` bytes it cancels the stream and
 * throws `tooLarge()`, so a body is never buffered beyond the limit.
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number = Infinity,
  tooLarge: () => Error = () => new RangeError(`stream longer than ${limit} bytes`),
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      void reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  return concatBytes(parts);
}
