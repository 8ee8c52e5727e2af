/**
 * The request body as a ReadableStream fed from the socket, with
 * backpressure both ways: the connection pauses reading while the stream's
 * queue is full, and resumes when the consumer pulls.
 *
 * @module
 */

/** The connection's side of a body stream. */
export interface BodyFeed {
  /** The consumer wants data (first pull: send `100 Continue` if owed). */
  onPull(): void;
  /** The consumer cancelled the stream: discard the rest of the body. */
  onCancel(): void;
}

const HIGH_WATER_MARK = 64 * 1024;

/**
 * A request body in flight.
 *
 * `push` copies each chunk (the adapter may reuse its buffer) and reports
 * whether the queue has room; `false` means pause the socket.
 */
export class BodyStream {
  /** The stream the handler reads. */
  readonly stream: ReadableStream<Uint8Array>;
  /** True once the consumer pulled at least once. */
  pulled = false;
  /** True once the consumer cancelled. */
  cancelled = false;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #done = false;

  /**
   * `lazyStart`: pull only when the consumer reads (high-water mark 0), so
   * that `100 Continue` goes out when the handler starts reading, not before.
   */
  constructor(feed: BodyFeed, lazyStart: boolean) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => {
          this.pulled = true;
          feed.onPull();
        },
        cancel: () => {
          this.cancelled = true;
          this.#done = true;
          feed.onCancel();
        },
      },
      { highWaterMark: lazyStart ? 0 : HIGH_WATER_MARK, size: (c) => c.byteLength },
    );
  }

  /** Queues a copy of `chunk`; returns false when the consumer is behind. */
  push(chunk: Uint8Array): boolean {
    if (this.#done) return true;
    this.#controller.enqueue(chunk.slice());
    return (this.#controller.desiredSize ?? 0) > 0;
  }

  /** The body is complete. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.close();
  }

  /** The body cannot complete (bad framing, client gone). */
  error(reason: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.error(reason);
  }

  /** True once closed, errored or cancelled. */
  get done(): boolean {
    return this.#done;
  }
}
