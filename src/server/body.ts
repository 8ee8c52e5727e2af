/**
 * The request body, fed from the socket, with backpressure both ways: the
 * connection pauses reading while the queue is full, and resumes when the
 * consumer takes more.
 *
 * The queue is ours, not a stream's, for three reasons. A read then means a
 * consumer is really reading, which is when `100 Continue` is owed. Every
 * queued byte is charged to the connection's group and released when the
 * consumer takes it. And a handler that reads the body whole
 * (`arrayBuffer()`, `text()`, `json()`) never needs a ReadableStream at all:
 * the stream is built only when someone asks for `request.body`, which on
 * Node 20 saves more than the rest of reading a small body costs.
 *
 * The stream is a byte stream (`type: "bytes"`), as a Fetch body is, so a
 * BYOB reader works on it. Its chunks are our own copies, so the transfer
 * that a byte stream's `enqueue` does costs nothing.
 *
 * @module
 */

import { concatBytes } from "../http/bytes.ts";
import { hasOwnParts } from "./light_response.ts";
import { BODY_HIGH_WATER } from "./options.ts";

/** The connection's side of a body. */
export interface BodyFeed {
  /** A consumer is reading (send `100 Continue` if owed, resume the socket). */
  onPull(): void;
  /** The consumer cancelled: discard the rest of the body. */
  onCancel(): void;
  /** Bytes entered (positive) or left (negative) the queue. */
  account(bytes: number): void;
}

/** A request body in flight. */
export class BodyStream {
  #feed: BodyFeed;
  #stream: ReadableStream<Uint8Array> | null = null;
  #controller: ReadableByteStreamController | null = null;
  #queue: Uint8Array<ArrayBuffer>[] = [];
  #queued = 0;
  #waiting = false; // a stream read is pending and the queue is empty
  #ending = false; // the body is complete; close once the queue is empty
  #done = false;
  #disturbed = false; // the stream was read from or cancelled (the Fetch standard's "disturbed")
  #collected = false; // collect() was called: the body is one reader's
  #error: unknown = null;
  // The body broke after the queued bytes (see fail()): the error reaches
  // a stream reader once it has taken them.
  #failAfter: { reason: unknown } | null = null;
  #highWater: number;
  // A whole-body reader: everything is collected, nothing is paused.
  #collect: { resolve(b: Uint8Array<ArrayBuffer>): void; reject(e: unknown): void } | null = null;

  /**
   * `highWater`: queued (unread) bytes beyond which `push` asks the
   * connection to pause the socket. The connection sets it below its byte
   * budget, so that the budget bounds the queue by backpressure and never by
   * closing the connection.
   */
  constructor(feed: BodyFeed, highWater: number = BODY_HIGH_WATER) {
    this.#feed = feed;
    this.#highWater = highWater;
  }

  /** The body as a ReadableStream, built on first use. */
  get stream(): ReadableStream<Uint8Array> {
    if (this.#stream === null) {
      this.#stream = new ReadableStream(
        {
          type: "bytes",
          start: (c) => {
            this.#controller = c;
            if (this.#error !== null) c.error(this.#error);
          },
          pull: () => this.#pull(),
          cancel: () => {
            this.#disturbed = true;
            this.#finish();
            this.#feed.onCancel();
          },
        },
        { highWaterMark: 0 },
      );
    }
    return this.#stream;
  }

  /**
   * Whether `response` carries this body as its own (`new Response(req.body)`):
   * its writer will read it. A lightweight response that keeps its own
   * parts carries a string or bytes, and its body is not asked for (that
   * would build the platform Response); nor is any response's before the
   * handler has taken this body's stream.
   */
  carriedBy(response: Response): boolean {
    return this.#stream !== null && !hasOwnParts(response) && response.body === this.#stream;
  }

  /** Whether a stream was built and is locked to a reader. */
  get locked(): boolean {
    return this.#stream?.locked ?? false;
  }

  /**
   * Whether the body was read, whole (`collect()`) or from the stream, or
   * cancelled: a request's `bodyUsed`, for every request reading this body
   * (one moved by a Router mount shares it with its original). A byte
   * stream with no high-water mark is pulled only for a read.
   */
  get disturbed(): boolean {
    return this.#disturbed || this.#collected;
  }

  /** Reads the whole body without a stream (the stream must not have been touched). */
  collect(): Promise<Uint8Array<ArrayBuffer>> {
    // Once: a second whole read got what the first left ("") or, while the
    // first waited, took its place and left it unresolved.
    if (this.disturbed) return Promise.reject(new TypeError("Body has already been consumed."));
    this.#collected = true;
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#failAfter !== null) return Promise.reject(this.#failNow());
    if (this.#ending && this.#stream === null) {
      // Already complete (the usual case for a small body): no waiting.
      const all = concatBytes(this.#queue);
      this.#finish();
      return Promise.resolve(all);
    }
    return new Promise((resolve, reject) => {
      this.#collect = { resolve, reject };
      // From here on the bytes belong to the reader, like chunks a stream
      // reader took: they leave the connection's budget, and the parser's
      // maxBodyBytes bounds them (413). Charging them would close the
      // connection of any body larger than the budget (issue 12.1).
      if (this.#queued > 0) this.#feed.account(-this.#queued);
      this.#queued = 0;
      if (this.#ending) this.#deliverCollected();
      else this.#feed.onPull(); // 100 Continue, and resume the socket
    });
  }

  #pull(): void {
    this.#disturbed = true;
    const c = this.#controller!;
    if (this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      this.#queued -= chunk.byteLength;
      this.#feed.account(-chunk.byteLength);
      c.enqueue(chunk);
      // After the last queued chunk a failure waits for the next pull: an
      // error now would drop what a BYOB read left of this chunk.
      if (this.#queue.length === 0 && this.#ending) this.#closeNow();
    } else if (this.#ending) {
      this.#closeNow();
      return;
    } else if (this.#failAfter !== null) {
      this.#failNow();
      return;
    } else {
      this.#waiting = true;
    }
    if (this.#queued < this.#highWater) this.#feed.onPull();
  }

  /** Queues a copy of `chunk`; returns false when the consumer is behind. */
  push(chunk: Uint8Array): boolean {
    // A byte stream refuses an empty chunk, and it carries nothing.
    if (this.#done || this.#ending || chunk.byteLength === 0) return true;
    // A real copy: the adapter may reuse the chunk's memory, and a Buffer's
    // slice() would only be a view of it.
    const copy = new Uint8Array(chunk);
    if (this.#waiting) {
      this.#waiting = false;
      this.#controller!.enqueue(copy);
      return true;
    }
    this.#queue.push(copy);
    // A whole-body reader takes everything, uncharged; the parser's body limit bounds it.
    if (this.#collect !== null) return true;
    this.#queued += copy.byteLength;
    this.#feed.account(copy.byteLength);
    return this.#queued < this.#highWater;
  }

  /** The body is complete: readers get the rest, then the end. */
  close(): void {
    if (this.#done || this.#ending) return;
    this.#ending = true;
    if (this.#collect !== null) this.#deliverCollected();
    else if (this.#queue.length === 0 && this.#controller !== null) this.#closeNow();
  }

  /**
   * The body breaks at this point (bad framing, larger than the limit):
   * the bytes that came before it are body all the same, so a stream
   * reader gets them first, then the error. A handler's own limit below
   * the server's then sees its own count first, whatever the runtime's
   * read sizes. A whole-body reader, or a stream with nothing queued,
   * gets the error at once.
   */
  fail(reason: unknown): void {
    if (this.#done || this.#ending || this.#failAfter !== null) return;
    if (this.#collect !== null || this.#queue.length === 0) return this.error(reason);
    this.#failAfter = { reason };
  }

  // The held failure reaches the readers now; returns its reason.
  #failNow(): unknown {
    const reason = this.#failAfter!.reason;
    this.#failAfter = null;
    this.error(reason);
    return reason;
  }

  /**
   * The body cannot complete (client gone, timed out): readers get the
   * error at once, unless it already broke (fail()): that error, the first,
   * still comes after the bytes before it.
   */
  error(reason: unknown): void {
    if (this.#done || this.#failAfter !== null) return;
    this.#finish();
    this.#error = reason;
    this.#controller?.error(reason);
    const c = this.#collect;
    this.#collect = null;
    c?.reject(reason);
  }

  /**
   * The rest is not wanted (the response is complete): drop what is queued
   * and discard what comes. A stream someone still holds a reader of (a
   * pipe, a handler's reader) cannot be cancelled from outside: its reader
   * gets an AbortError, and the rest is discarded all the same (otherwise
   * nothing would read it, and the connection would wait for its body
   * timeout).
   */
  cancel(): void {
    if (this.#done) return;
    if (this.#stream !== null && !this.#stream.locked) {
      void this.#stream.cancel().catch(() => {});
      return;
    }
    this.#finish();
    this.#controller?.error(
      new DOMException("the response is complete: the rest of the body is discarded", "AbortError"),
    );
    this.#feed.onCancel();
  }

  /** True once the body is closed, errored or cancelled. */
  get done(): boolean {
    return this.#done;
  }

  #deliverCollected(): void {
    const c = this.#collect!;
    this.#collect = null;
    const all = concatBytes(this.#queue);
    this.#finish();
    c.resolve(all);
  }

  #closeNow(): void {
    this.#finish();
    this.#controller!.close();
  }

  #finish(): void {
    this.#done = true;
    this.#waiting = false;
    if (this.#queued > 0) this.#feed.account(-this.#queued);
    this.#queue = [];
    this.#queued = 0;
  }
}
