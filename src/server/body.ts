/**
 * The request body as a ReadableStream fed from the socket, with
 * backpressure both ways: the connection pauses reading while the queue is
 * full, and resumes when the consumer pulls.
 *
 * The queue is ours, not the stream's (its high-water mark is 0), for two
 * reasons: a pull then means a consumer is really reading, which is when
 * `100 Continue` is owed; and every queued byte is charged to the
 * connection's group, then released when the consumer takes it.
 *
 * @module
 */

/** The connection's side of a body stream. */
export interface BodyFeed {
  /** A consumer is reading (send `100 Continue` if owed, resume the socket). */
  onPull(): void;
  /** The consumer cancelled the stream: discard the rest of the body. */
  onCancel(): void;
  /** Bytes entered (positive) or left (negative) the queue. */
  account(bytes: number): void;
}

const HIGH_WATER_MARK = 64 * 1024;

/** A request body in flight. */
export class BodyStream {
  /** The stream the handler reads. */
  readonly stream: ReadableStream<Uint8Array>;
  /** True once a consumer pulled at least once. */
  pulled = false;
  /** True once the consumer cancelled. */
  cancelled = false;
  #feed: BodyFeed;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #waiting = false; // a read is pending and the queue is empty
  #ending = false; // the body is complete; close once the queue is empty
  #done = false;

  constructor(feed: BodyFeed) {
    this.#feed = feed;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => this.#pull(),
        cancel: () => {
          this.cancelled = true;
          this.#finish();
          feed.onCancel();
        },
      },
      { highWaterMark: 0 },
    );
  }

  #pull(): void {
    this.pulled = true;
    if (this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      this.#queued -= chunk.byteLength;
      this.#feed.account(-chunk.byteLength);
      this.#controller.enqueue(chunk);
      if (this.#queue.length === 0 && this.#ending) this.#closeNow();
    } else if (this.#ending) {
      this.#closeNow();
      return;
    } else {
      this.#waiting = true;
    }
    if (this.#queued < HIGH_WATER_MARK) this.#feed.onPull();
  }

  /** Queues a copy of `chunk`; returns false when the consumer is behind. */
  push(chunk: Uint8Array): boolean {
    if (this.#done || this.#ending) return true;
    const copy = chunk.slice();
    if (this.#waiting) {
      this.#waiting = false;
      this.#controller.enqueue(copy);
      return true;
    }
    this.#queue.push(copy);
    this.#queued += copy.byteLength;
    this.#feed.account(copy.byteLength);
    return this.#queued < HIGH_WATER_MARK;
  }

  /** The body is complete: the stream closes once the queue is read. */
  close(): void {
    if (this.#done || this.#ending) return;
    this.#ending = true;
    if (this.#queue.length === 0) this.#closeNow();
  }

  /** The body cannot complete (bad framing, client gone). */
  error(reason: unknown): void {
    if (this.#done) return;
    this.#finish();
    this.#controller.error(reason);
  }

  /** True once the stream is closed, errored or cancelled. */
  get done(): boolean {
    return this.#done;
  }

  #closeNow(): void {
    this.#finish();
    this.#controller.close();
  }

  #finish(): void {
    this.#done = true;
    this.#waiting = false;
    if (this.#queued > 0) this.#feed.account(-this.#queued);
    this.#queue = [];
    this.#queued = 0;
  }
}
