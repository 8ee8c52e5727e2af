/**
 * One request/response exchange: what the connection knows about a request
 * while it is handled, the request bridge's source (body, signal), and the
 * handler's `info` (`remoteAddr`, `completed`, `group`).
 *
 * Its life: built when the head is parsed; `complete` when the body is in;
 * `started` when the response head is written; then `finish()` (response
 * done), `abort()` (client gone, handler deadline) or `upgraded()` (a 101).
 *
 * @module
 */

import type { NetAddr } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";
import type { RequestHead } from "../http/parser.ts";
import type { ServeHandlerInfo } from "../types.ts";
import type { BodyStream } from "./body.ts";
import { IncomingRequest, type RequestSource } from "./request.ts";

// The options form of the DOMException constructor (name and cause), which
// Node 20, Deno and Bun have and the DOM typings lack.
const DOMExceptionWithCause = DOMException as unknown as new (
  message: string,
  options: { name: string; cause?: unknown },
) => DOMException;

/**
 * Why `request.signal` aborts when the client goes away: always an
 * `AbortError`, whatever the runtime reported (a FIN, `ECONNRESET`, Deno's
 * `ConnectionReset`), with the socket's error as `cause` (issue 12.4).
 */
export function clientGone(cause?: Error): DOMException {
  return new DOMExceptionWithCause("The client closed the connection", { name: "AbortError", cause });
}

/** One request/response exchange; also the handler's `info`. */
export class Exchange implements ServeHandlerInfo<NetAddr>, RequestSource {
  readonly head: RequestHead;
  #peer: { readonly remoteAddr: NetAddr };
  #remoteAddr: NetAddr | null = null;
  #parentGroup: ResourceGroup;
  readonly request: IncomingRequest;
  body: BodyStream | null = null;
  /** The request message has been fully received. */
  complete = false;
  /** The response has been fully written (or abandoned). */
  responded = false;
  /** The response head has been written. */
  started = false;
  continueSent = false;
  /** The handler has been started. */
  dispatched = false;
  /** Which answer is being written: 0 the handler's, 1 onError's (after a failure), 2 the plain 500 (the last resort). */
  recovery: 0 | 1 | 2 = 0;
  #abort: AbortController | null = null;
  #group: ResourceGroup | null = null;
  #aborted = false;
  /** Why the request was aborted (client gone, handler timeout), or undefined. */
  abortReason: unknown = undefined;
  #completed: Promise<void> | null = null;
  #sending = false; // see sending()
  #resolveCompleted: (() => void) | null = null;

  /** An exchange for `head`, whose absolute URL is `url`; its group will be a child of `parentGroup` (the connection's). */
  constructor(head: RequestHead, url: string, peer: { readonly remoteAddr: NetAddr }, parentGroup: ResourceGroup) {
    this.head = head;
    this.#peer = peer;
    this.#parentGroup = parentGroup;
    this.request = new IncomingRequest(head.method, url, head.headers, this);
  }

  /**
   * The client's address, asked of the connection when first read: an
   * adapter may build it per call rather than keep it with every idle
   * connection (the Deno adapter does).
   */
  get remoteAddr(): NetAddr {
    return this.#remoteAddr ??= this.#peer.remoteAddr;
  }

  /** Settles when the response has been written or the connection died. */
  get completed(): Promise<void> {
    if (this.#completed === null) {
      if (this.responded && !this.#sending) this.#completed = Promise.resolve();
      else this.#completed = new Promise((r) => (this.#resolveCompleted = r));
    }
    return this.#completed;
  }

  /** This request's group, a child of the connection's, built on first use. */
  get group(): ResourceGroup {
    if (this.#group === null) {
      this.#group = this.#parentGroup.child({ name: `request ${this.head.method} ${this.head.target}` });
      // Born shut down, for the same reason the request's signal gave (a
      // response failing for it can then be told from one failing on its own).
      if (this.#aborted) void this.#group.shutdown(this.abortReason);
      else if (this.responded) void this.#group.shutdown();
    }
    return this.#group;
  }

  /** The body stream, for the request bridge (built on first use). */
  get stream(): ReadableStream<Uint8Array> | null {
    return this.body?.stream ?? null;
  }

  /** Whether the body stream exists and is locked. */
  get locked(): boolean {
    return this.body?.locked ?? false;
  }

  /** Whether the request has a body. */
  get hasBody(): boolean {
    return this.body !== null;
  }

  /** Whether the body stream was read from or cancelled. */
  get disturbed(): boolean {
    return this.body?.disturbed ?? false;
  }

  /** Reads the whole body without a stream, or null when there is none to read that way. */
  collect(): Promise<Uint8Array<ArrayBuffer>> | null {
    return this.body === null ? null : this.body.collect();
  }

  /** The request's abort signal, built on first use. */
  signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  /**
   * The request is abandoned before its response was complete (the client
   * went away, the handler missed its deadline): the signal aborts with
   * `reason`, an unfinished body errors with it, the group shuts down.
   */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.abortReason = reason;
    this.#abort ??= new AbortController();
    this.#abort.abort(reason);
    if (!this.complete) this.body?.error(reason);
    if (this.#group) void this.#group.shutdown(reason);
  }

  /**
   * The 101 head went out: the response is complete (`completed` settles,
   * the signal no longer aborts), but the request group lives on with the
   * upgraded connection, which shuts it down when it closes.
   */
  upgraded(): void {
    this.responded = true;
    this.#resolveCompleted?.();
  }

  /**
   * The response is written, but its last bytes still wait in the send
   * queue: `completed` stays pending and the signal can still abort until
   * `finish()`.
   */
  sending(): void {
    this.responded = true;
    this.#sending = true;
  }

  /** The response is done: settle `completed`, close the request group. */
  finish(): void {
    this.responded = true;
    this.#sending = false;
    this.#resolveCompleted?.();
    if (this.#group) void this.#group.shutdown();
  }
}
