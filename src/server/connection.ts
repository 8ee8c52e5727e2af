/**
 * One HTTP/1.1 connection: parse, dispatch, answer in order, keep alive or
 * close. This is where the parser, the request bridge and the response
 * writer meet the socket.
 *
 * Requests are answered strictly in order. The parser stops at each message
 * boundary; bytes of the next (pipelined) request wait in `#stash` until the
 * current response is written, so at most one handler runs per connection.
 *
 * @module
 */

import type { Conn, ConnHandler, NetAddr } from "../adapter.ts";
import { type ResourceGroup, runWithGroup } from "../groups/group.ts";
import { concatBytes } from "../http/bytes.ts";
import { HttpError } from "../http/errors.ts";
import { type ParserHandler, type RequestHead, RequestParser } from "../http/parser.ts";
import { encodeHead, httpDate, reasonPhrase } from "../http/response.ts";
import type { ServeHandlerInfo } from "../types.ts";
import { BodyStream } from "./body.ts";
import { IncomingRequest } from "./request.ts";
import { writeResponse } from "./respond.ts";
import type { ServerCore } from "./core.ts";
import { type UpgradedConnection, upgradeOf, type UpgradeRequest } from "./upgrade.ts";

// Unread request bodies up to this size are read and discarded so the
// connection can be reused; larger ones close the connection instead.
const DRAIN_LIMIT = 256 * 1024;
// Bytes of pipelined requests held while a response is pending before we
// stop reading from the socket.
const STASH_PAUSE = 64 * 1024;
// How long a closing connection keeps reading (and discarding) so that
// unread input does not turn our FIN into a reset that destroys the response.
const LINGER_MS = 2000;

// Characters or sequences the URL parser would rewrite: percent-encoded
// characters, dot segments (also as %2e), backslashes, an upper-case or
// default-port host.
const NOT_CANONICAL_TARGET = /[^A-Za-z0-9\-._~!$&'()*+,;=:@\/?%|]|\/\.|%2e/i;

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

function normalise(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    throw new HttpError("INVALID_HOST", "Host and request-target do not form a valid URL");
  }
}

// Whether URL would accept `host` and print it as it is: a lower-case name
// of characters URL never rewrites or rejects, no punycode label (URL
// validates those, and rejects `xn--a`), a port in range without a default
// value or zero padding, a dotted-quad IPv4 address in canonical form.
// Anything else goes through URL, which rejects what cannot form a URL
// (a 400, issue 18.3).
function isCanonicalHost(host: string): boolean {
  const m = /^([a-z0-9._~!$&'()*+,;=-]+)(?::([1-9]\d{0,4}))?$/.exec(host);
  if (m === null) return false; // IPv6 literal, empty port, upper case, …: let URL decide
  const [, name, port] = m;
  if (port !== undefined && (port === "80" || port === "443" || Number(port) > 65535)) return false;
  if (name.startsWith("xn--") || name.includes(".xn--")) return false;
  const last = name.slice(name.lastIndexOf(".") + 1);
  if (last === "" || /^(?:\d|0x)/i.test(last)) {
    return /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(name);
  }
  return true;
}

const CONTINUE = encodeHead("HTTP/1.1 100 Continue\r\n\r\n");

/** One request/response exchange; also the handler's `info`. */
export class Exchange implements ServeHandlerInfo<NetAddr> {
  readonly connection: HttpConnection;
  readonly head: RequestHead;
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
  #abort: AbortController | null = null;
  #group: ResourceGroup | null = null;
  #aborted = false;
  /** Why the request was aborted (client gone, handler timeout), or undefined. */
  abortReason: unknown = undefined;
  #completed: Promise<void> | null = null;
  #resolveCompleted: (() => void) | null = null;

  constructor(connection: HttpConnection, head: RequestHead, url: string) {
    this.connection = connection;
    this.head = head;
    this.request = new IncomingRequest(head.method, url, head.headers, this);
  }

  /** The client's address. */
  get remoteAddr(): NetAddr {
    return this.connection.conn.remoteAddr;
  }

  /** Settles when the response has been written or the connection died. */
  get completed(): Promise<void> {
    if (this.#completed === null) {
      if (this.responded) this.#completed = Promise.resolve();
      else this.#completed = new Promise((r) => (this.#resolveCompleted = r));
    }
    return this.#completed;
  }

  /** This request's group, a child of the connection's, built on first use. */
  get group(): ResourceGroup {
    if (this.#group === null) {
      this.#group = this.connection.group.child({ name: `request ${this.head.method} ${this.head.target}` });
      if (this.responded || this.#aborted) void this.#group.shutdown();
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

  /** Reads the whole body without a stream, or null when there is none to read that way. */
  collect(): Promise<Uint8Array<ArrayBuffer>> | null {
    return this.body === null ? null : this.body.collect();
  }

  /** The request's abort signal, built on first use. */
  signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  /** The client went away before the response was complete. */
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

  /** The response is done: settle `completed`, close the request group. */
  finish(): void {
    this.responded = true;
    this.#resolveCompleted?.();
    if (this.#group) void this.#group.shutdown();
  }
}

/** The per-connection protocol state machine; see the module docs. */
export class HttpConnection implements ConnHandler, ParserHandler {
  readonly conn: Conn;
  readonly core: ServerCore;
  readonly group: ResourceGroup;
  /** Epoch ms after which the connection times out, or 0. */
  deadline = 0;
  /** Which timeout `deadline` is. */
  deadlineKind: "headers" | "body" | "keepAlive" | "send" | "linger" = "headers";
  /** Epoch ms by which the running handler must have started its response, or 0 (`timeouts.handler`). */
  handlerDeadline = 0;
  #parser: RequestParser;
  #current: Exchange | null = null;
  #dispatch: Exchange | null = null;
  #stash: Uint8Array | null = null;
  #readPaused = false;
  #closing = false; // close once the current response is written
  #ended = false; // we sent FIN (or are about to)
  #closed = false;
  #peerEnded = false;
  #parserDead = false;
  #drainWaiter: (() => void) | null = null;
  #discardLeft = 0; // bytes of an unread body we still accept to discard
  #upgraded: UpgradedConnection | null = null; // after a 101: who has the socket
  #unparsed: Uint8Array | null = null; // while a handler runs inside #feed: the bytes after its request
  #canonicalHost = ""; // the last Host seen that needs no normalising

  constructor(conn: Conn, core: ServerCore, group: ResourceGroup) {
    this.conn = conn;
    this.core = core;
    this.group = group;
    this.#parser = new RequestParser(this, core.limits);
    this.#setDeadline("headers");
  }

  /** No request in progress and no bytes of one received. */
  get idle(): boolean {
    return this.#current === null && this.#stash === null && this.#parser.idle;
  }

  /** True once the socket is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  #setDeadline(kind: HttpConnection["deadlineKind"]): void {
    const ms = this.core.timeouts[kind as "headers"] ?? LINGER_MS;
    this.deadlineKind = kind;
    this.deadline = ms === Infinity ? 0 : Date.now() + ms;
  }

  // ---------------------------------------------------------------- socket events

  onData(chunk: Uint8Array): void {
    if (this.#upgraded !== null) return this.#upgraded.onData(chunk);
    if (this.#ended || this.#closed) return; // lingering: discard
    if (this.#stash !== null || (this.#current !== null && this.#current.complete)) {
      this.#hold(chunk);
      return;
    }
    this.#feed(chunk);
  }

  onDrain(): void {
    if (this.#upgraded !== null) return this.#upgraded.onDrain();
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.();
  }

  onEnd(): void {
    if (this.#upgraded !== null) return this.#upgraded.onEnd();
    this.#peerEnded = true;
    const ex = this.#current;
    if (ex !== null) {
      if (!ex.complete) {
        // The client stopped sending mid-body: that body can never complete.
        this.#parserDead = true;
        ex.body?.error(new HttpError("BODY_INCOMPLETE", "client closed the connection before the body was complete"));
        if (ex.responded) this.#close();
        else this.#closing = true;
      }
      // Like node:http and Deno's and Bun's built-in servers, a FIN before the response
      // is complete counts as the client going away; the response is still
      // written if the handler produces one (the socket is half-open).
      if (!ex.responded) {
        ex.abort(clientGone());
        // During a graceful shutdown a client that left holds nothing up
        // (issue 12.2): close now. Otherwise the handler may still answer;
        // it gets the send timeout to do so.
        if (this.core.draining && !ex.started) this.#close();
        else this.#setDeadline("send");
      }
      return;
    }
    if (this.#stash === null) this.#close();
  }

  onClose(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.deadline = 0;
    this.handlerDeadline = 0;
    const ex = this.#current;
    if (ex !== null && !ex.responded) ex.abort(clientGone(error));
    const upgraded = this.#upgraded;
    if (upgraded !== null) {
      try {
        upgraded.onClose(error);
      } catch (e) {
        console.error("portico: upgraded connection's onClose failed:", e);
      }
    } else this.onDrain();
    this.core.forget(this);
    // The connection's group holds the request group, which an upgrade kept open.
    void this.group.shutdown();
  }

  // ---------------------------------------------------------------- parsing

  // Keeps bytes that cannot be parsed yet; they count against the
  // connection's byte budget until #take() hands them back. Bytes that are
  // already ours (taken from the stash) are kept as a view, not copied again:
  // a batch of pipelined requests is copied once, not once per request.
  #hold(chunk: Uint8Array, owned = false): void {
    const s = this.#stash;
    this.group.charge(chunk.length);
    // Copies of exact size, not slab views: a held view would keep its whole
    // slab alive while the budget counts only these bytes.
    if (s === null) this.#stash = owned ? chunk : new Uint8Array(chunk);
    else this.#stash = concatBytes([s, chunk]);
    if (this.#stash.length > STASH_PAUSE) this.#pauseRead();
  }

  #take(): Uint8Array {
    const s = this.#stash!;
    this.#stash = null;
    this.group.release(s.length);
    return s;
  }

  #feed(data: Uint8Array, owned = false): void {
    let corked = false;
    try {
      for (;;) {
        let n: number;
        try {
          n = this.#parser.execute(data);
        } catch (e) {
          // A body error can come in the same chunk as its head: start the
          // handler first, so that it sees the error when it reads.
          const pending = this.#dispatch;
          this.#dispatch = null;
          if (pending !== null) this.#run(pending);
          this.#protocolError(e);
          return;
        }
        const ex = this.#dispatch;
        if (ex !== null) {
          this.#dispatch = null;
          // More requests in this chunk: the answers that are ready at once
          // go out together, in one system call, when the adapter can.
          if (!corked && n < data.length && this.conn.cork !== undefined) {
            this.conn.cork();
            corked = true;
          }
          // A handler that answers at once with a 101 takes the bytes after
          // this request's head as its `rest`.
          this.#unparsed = n < data.length ? data.subarray(n) : null;
          this.#run(ex);
          this.#unparsed = null;
          if (this.#upgraded !== null) return;
        }
        if (n >= data.length) break;
        data = data.subarray(n);
        if (this.#current !== null || this.#ended || this.#closed) {
          if (!this.#ended && !this.#closed) this.#hold(data, owned);
          return;
        }
      }
    } finally {
      if (corked) this.conn.uncork!();
    }
    // A head is unfinished: its deadline runs from its first byte, which
    // came in this call unless the deadline is already the head's. (Set
    // here rather than before parsing, a head that completes at once costs
    // no clock read.)
    if (
      this.#current === null && (this.deadlineKind !== "headers" || this.deadline === 0) && !this.#parser.idle &&
      !this.#ended
    ) {
      this.#setDeadline("headers");
    }
  }

  onHead(head: RequestHead): void {
    const ex = new Exchange(this, head, this.#url(head));
    if (head.framing !== "none") {
      const method = head.method;
      if (method === "GET" || method === "HEAD") {
        // A Fetch Request cannot carry a GET/HEAD body: it is framed and
        // discarded, and the handler runs once the framing proved valid.
        this.#discardLeft = Infinity;
        this.#current = ex;
        this.#setDeadline("body");
        return;
      } else {
        ex.body = new BodyStream({
          onPull: () => this.#onPull(ex),
          onCancel: () => this.#onCancel(ex),
          account: (n) => (n > 0 ? this.group.charge(n) : this.group.release(-n)),
        }, this.core.bodyHighWater);
      }
      this.#setDeadline("body");
    } else this.deadline = 0;
    this.#current = ex;
    this.#dispatch = ex;
  }

  onBody(chunk: Uint8Array): void {
    const ex = this.#current!;
    if (this.deadlineKind === "body") this.#setDeadline("body");
    const body = ex.body;
    if (body !== null && !body.done) {
      if (!body.push(chunk)) this.#pauseRead();
      return;
    }
    this.#discardLeft -= chunk.length;
    if (this.#discardLeft < 0 && ex.responded) this.#close();
  }

  onComplete(): void {
    const ex = this.#current!;
    ex.complete = true;
    ex.body?.close();
    if (!ex.dispatched) this.#dispatch = ex;
    if (this.deadlineKind === "body") this.deadline = 0;
    if (ex.responded) this.#next();
  }

  // request.url must read as a platform Request's would: the WHATWG URL
  // serialisation. Most targets already are; the rest go through URL.
  #url(head: RequestHead): string {
    if (head.form === "absolute") return normalise(head.target);
    const host = head.host || this.core.defaultHost;
    const url = this.core.scheme + host + (head.form === "asterisk" ? "/*" : head.target);
    if (host !== this.#canonicalHost) {
      if (!isCanonicalHost(host)) return normalise(url);
      this.#canonicalHost = host;
    }
    if (NOT_CANONICAL_TARGET.test(head.target)) return normalise(url);
    return url;
  }

  #onPull(ex: Exchange): void {
    if (ex.head.expectContinue && !ex.continueSent && !ex.started && !ex.complete) {
      ex.continueSent = true;
      this.conn.write(CONTINUE);
    }
    if (this.#readPaused && this.#current === ex) this.#resumeRead();
  }

  #onCancel(ex: Exchange): void {
    // The handler does not want the rest of the body: discard it, within reason.
    this.#discardLeft = DRAIN_LIMIT;
    if (this.#current === ex && this.#readPaused) this.#resumeRead();
  }

  #pauseRead(): void {
    if (!this.#readPaused) {
      this.#readPaused = true;
      this.conn.pause();
    }
  }

  #resumeRead(): void {
    if (this.#readPaused) {
      this.#readPaused = false;
      this.conn.resume();
    }
    // Bytes that arrived while paused (or while a response was pending).
    if (this.#stash !== null && !this.#ended && !this.#closed) {
      if (this.#current !== null && this.#current.complete) return; // still waiting for the response
      this.#feed(this.#take(), true);
    }
  }

  // ---------------------------------------------------------------- answering

  #run(ex: Exchange): void {
    ex.dispatched = true;
    const limit = this.core.timeouts.handler;
    if (limit !== Infinity) this.handlerDeadline = Date.now() + limit;
    let result: Response | Promise<Response>;
    try {
      result = runWithGroup(ex, () => this.core.handler(ex.request as unknown as Request, ex));
    } catch (e) {
      void this.#failed(ex, e);
      return;
    }
    if (result instanceof Response) void this.#respond(ex, result);
    else {
      Promise.resolve(result).then(
        (r) => this.#respond(ex, r),
        (e) => this.#failed(ex, e),
      );
    }
  }

  async #failed(ex: Exchange, error: unknown): Promise<void> {
    if (ex.responded) return;
    // A handler that fails because its client went away (the body read
    // rejected with the abort reason) is not a server error: nothing is
    // logged, nothing can be sent (issue 18.7).
    if (ex.abortReason !== undefined && isAbortOf(error, ex.abortReason)) {
      ex.finish();
      this.#close();
      return;
    }
    // Its own status for an HttpError; whether the connection survives is
    // decided as for any response (a framing error already marked it dead).
    if (error instanceof HttpError) return this.#respond(ex, error.toResponse());
    let response: Response;
    try {
      response = await this.core.onError(error);
      if (!isResponse(response)) throw new TypeError("onError did not return a Response");
    } catch (e) {
      console.error("portico: onError failed:", e);
      response = new Response("Internal Server Error", { status: 500 });
    }
    return this.#respond(ex, response);
  }

  // Synchronous as far as the write allows: a response whose body is at
  // hand is written and the next pipelined request parsed in the same turn,
  // without a promise.
  #respond(ex: Exchange, response: unknown): void | Promise<void> {
    if (ex.responded) {
      // Answered already (503 at the handler deadline): this one is too late.
      if (response instanceof Response) void response.body?.cancel().catch(() => {});
      return;
    }
    if (!isResponse(response)) {
      return this.#failed(ex, new TypeError(`handler returned ${describe(response)} instead of a Response`));
    }
    this.handlerDeadline = 0;
    if (this.#closed || this.#ended || this.group.closed) {
      // The client is gone, or the connection's group was shut down (budget,
      // server shutdown) while the handler ran: nothing more goes out.
      void response.body?.cancel().catch(() => {});
      ex.finish();
      this.#destroy();
      return;
    }
    const upgrade = upgradeOf(response);
    if (upgrade !== undefined) return this.#upgrade(ex, upgrade);
    let keepAlive = ex.head.keepAlive && !this.#closing && !this.#peerEnded && !this.core.draining && !this.#parserDead;
    if (keepAlive && !ex.complete) keepAlive = this.#canDrain(ex);
    ex.started = true;
    let written: boolean | Promise<boolean>;
    try {
      written = writeResponse(this, ex, response, keepAlive);
    } catch (e) {
      return this.#writeFailed(ex, e);
    }
    if (typeof written === "boolean") return this.#responded(ex, written);
    return written.then((k) => this.#responded(ex, k), (e) => this.#writeFailed(ex, e));
  }

  // A 101: write its head, stop parsing HTTP, hand the socket and the bytes
  // that came after the request head to the upgrade handler.
  #upgrade(ex: Exchange, upgrade: UpgradeRequest): void | Promise<void> {
    if (!ex.complete || this.#parserDead || this.#closing || this.core.draining) {
      // The socket is not clean (an unread body, a broken or closing
      // connection, a server shutting down): no upgrade.
      const why = this.core.draining ? "the server is shutting down" : "the request's body was not read";
      const status = this.core.draining ? 503 : 500;
      return this.#respond(ex, new Response(`Upgrade refused: ${why}\n`, { status }));
    }
    ex.started = true;
    let head = "HTTP/1.1 101 Switching Protocols\r\n";
    for (const [name, value] of upgrade.headers) head += `${name}: ${value}\r\n`;
    this.conn.write(encodeHead(head + "\r\n"));
    this.deadline = 0;
    let rest = this.#unparsed ?? new Uint8Array(0);
    this.#unparsed = null;
    if (this.#stash !== null) rest = this.#take();
    if (this.#readPaused) {
      this.#readPaused = false;
      this.conn.resume();
    }
    // Taken before upgraded(): a request group first built after the response is complete is born shut down.
    const group = ex.group;
    ex.upgraded();
    try {
      this.#upgraded = upgrade.onUpgrade(this.conn, rest, group);
    } catch (e) {
      console.error("portico: upgrade handler failed:", e);
      this.#destroy();
    }
  }

  // The head went out but the body failed: the framing is broken, so the
  // only honest signal left is to cut the connection.
  #writeFailed(ex: Exchange, e: unknown): void {
    // A body that failed because its client went away (a FIN aborts the
    // request and shuts its group, closing a file the body reads) is not a
    // server error (12.8, 18.7).
    if (!this.#closed && ex.abortReason === undefined) console.error("portico: response body failed:", e);
    ex.finish();
    this.#destroy();
  }

  #responded(ex: Exchange, keepAlive: boolean): void {
    ex.finish();
    if (this.#closed) return;
    if (!keepAlive) this.#closing = true;
    if (ex.complete) this.#next();
    else if (this.#closing) this.#close();
    else {
      // Discard the rest of the unread body, then go on.
      if (ex.body !== null && !ex.body.done) ex.body.cancel();
      this.#discardLeft = Math.max(this.#discardLeft, DRAIN_LIMIT);
      if (this.#readPaused) this.#resumeRead();
    }
  }

  #canDrain(ex: Exchange): boolean {
    if (ex.head.expectContinue && !ex.continueSent) return false; // the client may never send it
    if (ex.head.framing === "length") return ex.head.contentLength <= DRAIN_LIMIT;
    return true; // chunked: discarded up to DRAIN_LIMIT, then closed
  }

  #next(): void {
    this.#current = null;
    if (this.#closing || this.#ended) {
      this.#close();
      return;
    }
    this.#discardLeft = 0;
    if (this.#stash !== null) {
      const s = this.#take();
      if (this.#readPaused) {
        this.#readPaused = false;
        this.conn.resume();
      }
      this.#feed(s, true);
      if (this.#current === null && this.#peerEnded && this.#stash === null) this.#close();
      return;
    }
    if (this.#peerEnded) {
      this.#close();
      return;
    }
    if (this.#readPaused) {
      this.#readPaused = false;
      this.conn.resume();
    }
    if (this.core.draining) {
      this.#close();
      return;
    }
    this.#setDeadline("keepAlive");
  }

  /** Waits until the socket can take more (or is gone). */
  waitDrain(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#setDeadline("send");
    return new Promise((r) => {
      this.#drainWaiter = () => {
        this.deadline = 0;
        r();
      };
    });
  }

  #protocolError(e: unknown): void {
    this.#parserDead = true;
    if (!(e instanceof HttpError)) {
      console.error("portico: internal error while parsing:", e);
      this.#destroy();
      return;
    }
    const ex = this.#current;
    if (ex !== null && ex.dispatched) {
      // The error is in the body of a request already being handled.
      ex.body?.error(e);
      this.#closing = true;
      if (ex.responded) this.#close();
      return;
    }
    this.#current = null;
    if (this.#stash !== null) this.#take();
    const body = e.message + "\n";
    const head = `HTTP/1.1 ${e.status} ${reasonPhrase(e.status)}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `date: ${httpDate()}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
    this.conn.write(encodeHead(head + body));
    this.#close();
  }

  /** Closes gracefully: FIN after what is queued, then read and discard until the peer closes. */
  #close(): void {
    if (this.#ended || this.#closed) return;
    this.#ended = true;
    if (this.#stash !== null) this.#take();
    if (this.#readPaused) {
      this.#readPaused = false;
      this.conn.resume();
    }
    this.conn.end();
    this.#setDeadline("linger");
  }

  #destroy(): void {
    if (this.#closed) return;
    this.#ended = true;
    this.conn.destroy();
  }

  /** Called by the server's sweeper when `deadline` has passed. */
  timeout(): void {
    const kind = this.deadlineKind;
    this.deadline = 0;
    if (this.#closed) return;
    if (kind === "keepAlive" && this.idle) return this.#close();
    if (kind === "headers" && this.#current === null) {
      if (this.#parser.idle && this.#stash === null) return this.#close();
      this.#parserDead = true;
      const head =
        `HTTP/1.1 408 Request Timeout\r\ndate: ${httpDate()}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
      this.conn.write(encodeHead(head));
      return this.#close();
    }
    if (kind === "body" && this.#current !== null && !this.#current.complete) {
      this.#parserDead = true;
      this.#closing = true;
      this.#current.body?.error(new HttpError("REQUEST_TIMEOUT", "request body timed out"));
      if (this.#current.responded || this.#current.body === null) this.#close();
      return;
    }
    this.#destroy();
  }

  /**
   * The running handler has not started its response by `timeouts.handler`:
   * its request group shuts down (its signal aborts), the client gets a 503
   * and the connection closes (issue 12.7).
   */
  handlerTimeout(): void {
    this.handlerDeadline = 0;
    const ex = this.#current;
    if (ex === null || ex.started || ex.responded || this.#closed) return;
    ex.abort(new DOMException("The handler did not answer in time", "TimeoutError"));
    ex.finish();
    this.#parserDead = true;
    if (!this.#ended) {
      const body = "Service Unavailable: the handler did not answer in time\n";
      this.conn.write(encodeHead(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
          `connection: close\r\n\r\n${body}`,
      ));
    }
    this.#close();
  }

  /**
   * Graceful server shutdown: close now if idle, or if the client already
   * left before its response started (it can hold nothing up); otherwise
   * after the current response.
   */
  drain(): void {
    if (this.#upgraded !== null) {
      try {
        this.#upgraded.closeGracefully();
      } catch (e) {
        console.error("portico: upgraded connection's closeGracefully failed:", e);
        this.#destroy();
      }
      return;
    }
    const ex = this.#current;
    if (this.idle || (this.#peerEnded && ex !== null && !ex.started && ex.abortReason !== undefined)) this.#close();
    else this.#closing = true;
  }

  /** Immediate shutdown. */
  destroy(): void {
    this.#destroy();
  }
}

// Whether `error` is `reason`, or was caused by it (a platform reader may wrap it).
function isAbortOf(error: unknown, reason: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 4; depth++) {
    if (e === reason) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

// A Response that can be sent: Response.error() (status 0, a network error)
// cannot, and answers 500 like a handler that failed.
function isResponse(v: unknown): v is Response {
  return v instanceof Response && v.status !== 0;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Response) return "Response.error()";
  if (typeof v === "object") return `an object (${Object.prototype.toString.call(v)})`;
  return typeof v;
}
