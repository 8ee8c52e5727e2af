/**
 * The send queue the Deno and Bun adapters share: bytes waiting for the
 * socket, corking, and the high-water mark behind `write()`'s `false` and
 * `onDrain`. Runtime-free: the adapter does the writing (Deno awaits a
 * promise per write; Bun's write takes what the kernel does and returns the
 * count) and tells the queue what went out.
 *
 * Node needs none of this: its `net.Socket` queues, corks and drains itself.
 *
 * @module
 */

import { joinShared } from "../src/http/bytes.ts";

/** Queued bytes at or above this make `push()` report backpressure. */
export const HIGH_WATER: number = 64 * 1024;

/**
 * Chunks queued together are joined into one write while their total is at
 * most this; larger ones are written as they are (a copy of 64 KiB costs
 * more than the extra write).
 */
export const JOIN_LIMIT: number = 16 * 1024;

/**
 * Bytes waiting to be written. A chunk counts from `push()` until the
 * adapter reports it with `written()`, so a batch taken but not yet sent
 * still holds back the writer.
 *
 * @example
 * ```ts
 * import { WriteQueue } from "./write_queue.ts";
 * const q = new WriteQueue();
 * q.push(new Uint8Array(10));
 * q.push(new Uint8Array(20));
 * const batch = q.take(); // one chunk of 30 bytes: small writes are joined
 * q.written(batch[0].byteLength);
 * console.log(q.bytes, q.drained()); // 0 false: nobody was told to wait
 * ```
 */
export class WriteQueue {
  // The usual queue holds one chunk (a response, or a turn's responses
  // joined): kept in a field of its own, it costs no array per write (an
  // array's first push reserves 17 slots: ~180 bytes of garbage per
  // response on Deno and Bun). #chunks exists only while two or more wait.
  #one: Uint8Array | null = null;
  #chunks: Uint8Array[] | null = null;
  #bytes = 0;
  #corked = 0;
  #wantDrain = false;

  /** Bytes pushed and not yet reported written. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether chunks wait to be taken. */
  get pending(): boolean {
    return this.#one !== null || this.#chunks !== null;
  }

  /** Whether writes are held by `cork()`. */
  get corked(): boolean {
    return this.#corked > 0;
  }

  /**
   * Queues `chunk` (kept, not copied). Returns false when the queue is at or
   * above {@link HIGH_WATER}: the writer waits for `onDrain`, which
   * {@link drained} then owes it.
   */
  push(chunk: Uint8Array): boolean {
    if (this.#chunks !== null) this.#chunks.push(chunk);
    else if (this.#one === null) this.#one = chunk;
    else {
      this.#chunks = [this.#one, chunk];
      this.#one = null;
    }
    this.#bytes += chunk.byteLength;
    if (this.#bytes < HIGH_WATER) return true;
    this.#wantDrain = true;
    return false;
  }

  /** Counts bytes that went out. */
  written(n: number): void {
    this.#bytes -= n;
  }

  /**
   * Takes what is queued as one chunk when it fits in one write: the only
   * chunk, or small ones joined. Returns null, and takes nothing, when there
   * is nothing or when the chunks are too large to join (then {@link take}).
   */
  takeOne(): Uint8Array | null {
    const one = this.#one;
    if (one !== null) {
      this.#one = null;
      return one;
    }
    const q = this.#chunks;
    if (q === null) return null;
    let total = 0;
    for (const c of q) total += c.byteLength;
    if (total > JOIN_LIMIT) return null;
    this.#chunks = null;
    return joinShared(q);
  }

  /**
   * Takes every queued chunk, to be written in order: small ones joined
   * into one, large ones as they are. Their bytes count until `written()`.
   */
  take(): Uint8Array[] {
    const one = this.takeOne();
    if (one !== null) return [one];
    const q = this.#chunks;
    this.#chunks = null;
    return q ?? [];
  }

  /** Puts back what a partial write left, ahead of anything queued since (already counted). */
  putBack(chunks: Uint8Array[]): void {
    if (chunks.length === 0) return;
    const queued = this.#chunks ?? (this.#one === null ? [] : [this.#one]);
    this.#one = null;
    if (queued.length === 0 && chunks.length === 1) {
      this.#one = chunks[0];
      this.#chunks = null;
    } else this.#chunks = chunks.concat(queued);
  }

  /** Holds writes until as many `uncork()`s. */
  cork(): void {
    this.#corked++;
  }

  /** Undoes one `cork()`; true when that released the last one (the adapter flushes then). */
  uncork(): boolean {
    return this.#corked > 0 && --this.#corked === 0;
  }

  /** Releases every `cork()` at once (before ending the connection). */
  uncorkAll(): void {
    this.#corked = 0;
  }

  /**
   * True, once, when a writer was told to wait and the queue is below
   * {@link HIGH_WATER} again: the adapter calls `onDrain` then.
   */
  drained(): boolean {
    if (!this.#wantDrain || this.#bytes >= HIGH_WATER) return false;
    this.#wantDrain = false;
    return true;
  }

  /** Drops everything queued (the connection is gone). */
  clear(): void {
    this.#one = null;
    this.#chunks = null;
    this.#bytes = 0;
    this.#corked = 0;
  }
}
