/**
 * One HTTP/1.1 connection, as a state machine: parse, dispatch, answer in
 * order, keep alive or close. This is where the parser, the request bridge
 * and the response writer meet the socket.
 *
 * One request's bytes, in the order this file handles them:
 *
 * 1. `onData` (the adapter) → `#feed` runs the parser over the chunk;
 * 2. the parser calls back `onHead` (an {@link Exchange} is built, the phase
 *    becomes `"body"`), `onBody` (into the exchange's {@link BodyStream}) and
 *    `onComplete` (phase `"handling"`);
 * 3. once `execute` returns, `#feed` starts the handler (`#run`): the parser
 *    leaves the exchange in `#dispatch` rather than calling the handler from
 *    inside its own callback;
 * 4. the handler's Response goes to `#respond` → `writeResponse` (respond.ts)
 *    writes it through this connection's {@link ResponseSink} side
 *    (`write`, `cork`, `waitWritable`) → `conn.write`;
 * 5. `#responded` → `#next`: the next pipelined request (phase `"head"`
 *    again), or the close.
 *
 * Requests are answered strictly in order: the parser stops at each message
 * boundary, and bytes of the next (pipelined) request wait in `#stash` until
 * the current response is written, so at most one handler runs per
 * connection.
 *
 * Three words that sound alike mean different things here: the socket is
 * *writable* again (`onDrain` from the adapter, `waitWritable()`); an unread
 * body is *discarded* (`DISCARD_LIMIT`); the server *shuts down gracefully*
 * (`closeGracefully()`).
 *
 * @module
 */

import type { Conn, ConnHandler, NetAddr } from "../adapter.ts";
import { type ResourceGroup, runWithGroup } from "../groups/group.ts";
import { concatBytes } from "../http/bytes.ts";
import { HttpError } from "../http/errors.ts";
import { type ParserHandler, type RequestHead, RequestParser } from "../http/parser.ts";
import { encodeHead, httpDate, reasonPhrase } from "../http/response.ts";
import type { Handler } from "../types.ts";
import { BodyStream } from "./body.ts";
import { clientGone, Exchange } from "./exchange.ts";
import {
  DISCARD_LIMIT,
  LINGER_MAX_MS,
  LINGER_MS,
  PIPELINE_PAUSE,
  type ServerOptions,
  SPARE_PARSERS,
  type Timeouts,
} from "./options.ts";
import type { RequestUrls } from "./request_url.ts";
import { type ResponseSink, writeResponse } from "./respond.ts";
import { type UpgradedConnection, upgradeOf, type UpgradeRequest } from "./upgrade.ts";

/**
 * Where a connection is in its life.
 *
 * - `"head"`: between requests, waiting for a request head or reading one;
 * - `"body"`: a head was parsed and its body is arriving (the handler may
 *   already run, or have answered);
 * - `"handling"`: the request is complete; its handler runs or its response
 *   is being written, and bytes of the next request wait in the stash;
 * - `"closing"`: our side is closed (FIN sent, or the socket destroyed); input
 *   is read and dropped until the socket is gone;
 * - `"upgraded"`: a 101 went out and another protocol has the socket;
 * - `"closed"`: the socket is gone.
 */
export type Phase = "head" | "body" | "handling" | "closing" | "upgraded" | "closed";

/** Which deadline a connection's `deadline` is. */
export type DeadlineKind = "headers" | "body" | "keepAlive" | "send" | "linger";

/** What a connection needs of its server (implemented by `ServerCore`). */
export interface ConnectionServer {
  /** The resolved options. */
  readonly options: ServerOptions;
  /** The request handler (a unix server's gets the unix address). */
  readonly handler: Handler<NetAddr>;
  /** Turns a handler error into a response. */
  readonly onError: (error: unknown) => Response | Promise<Response>;
  /** Builds request URLs (one per server: it remembers canonical Hosts). */
  readonly urls: RequestUrls;
  /** Parsers that connections between requests gave back, for the next request to take. */
  readonly parsers: RequestParser[];
  /** True once a graceful shutdown began: no more keep-alive, no upgrades. */
  readonly shuttingDown: boolean;
  /** The connection's socket is gone. */
  forget(connection: HttpConnection): void;
}

const CONTINUE = encodeHead("HTTP/1.1 100 Continue\r\n\r\n");

/** One connection's protocol state machine; see the module docs. */
export class HttpConnection implements ConnHandler, ParserHandler, ResponseSink {
  readonly conn: Conn;
  readonly group: ResourceGroup;
  /** Where the connection is; see {@link Phase}. */
  phase: Phase = "head";
  /**
   * Epoch ms after which the connection times out; 0 for none; negative
   * for a deadline of -`deadline` ms that the server's next sweep starts
   * (see #setDeadline).
   */
  deadline = 0;
  /** Which timeout `deadline` is. */
  deadlineKind: DeadlineKind = "headers";
  /** Epoch ms by which the running handler must have started its response, or 0 (`timeouts.handler`). */
  handlerDeadline = 0;
  #server: ConnectionServer;
  #timeouts: Timeouts; // the server's, read at every deadline
  // While a request is read; null between requests (see #next): an idle
  // keep-alive connection keeps no parser (~200 bytes each, issue 17), it
  // takes one from the server's spares at its next request's first byte.
  #parser: RequestParser | null = null;
  #current: Exchange | null = null; // the request being handled, from its head to its response's end
  #dispatch: Exchange | null = null; // parsed, its handler to be started once the parser returns
  #stash: Uint8Array | null = null; // received bytes not parsed yet (the next request's)
  #unparsed: Uint8Array | null = null; // while a handler runs inside #feed: the bytes after its request
  #readPaused = false;
  #closeAfterResponse = false;
  #peerEnded = false; // the client sent FIN
  #framingBroken = false; // no further request can be parsed on this connection
  #discardLeft = 0; // bytes of an unread body we still accept to discard
  #writableWaiter: (() => void) | null = null;
  #onGone: ((reason: unknown) => void) | null = null; // set by the writer while it pumps a body
  #upgraded: UpgradedConnection | null = null; // after a 101: who has the socket
  // Whether the response being written has put bytes on the socket: until
  // then a 100 Continue may still go first, and a writer that fails has
  // sent nothing, so the client can still get a 500 (see #respond).
  #headOut = false;
  // A write answered false and the adapter has not said onDrain since. An
  // adapter may drain during the writer's own uncork() (Bun's, when the
  // kernel takes everything at once): a wait that starts after that must
  // not wait for a drain that already came.
  #drainOwed = false;
  #lingerEnd = 0; // when a closing connection stops reading whatever comes (LINGER_MAX_MS)
  // A response written while the socket was above its high-water mark: its
  // bytes still wait in the send queue, so its exchange is not finished
  // (`completed` pending, its signal can still abort) until the drain. The
  // connection goes on meanwhile: no promise, no turn, nothing per
  // response when the socket has room.
  #unsent: Exchange | null = null;

  constructor(conn: Conn, server: ConnectionServer, group: ResourceGroup) {
    this.conn = conn;
    this.#server = server;
    this.#timeouts = server.options.timeouts;
    this.group = group;
    this.#setDeadline("headers");
  }

  /** No request in progress and no bytes of one received. */
  get idle(): boolean {
    return this.#current === null && this.#stash === null && this.#betweenRequests;
  }

  // The parser has no byte of a next request.
  get #betweenRequests(): boolean {
    return this.#parser === null || this.#parser.idle;
  }

  // The keep-alive deadline (set after every response) and the body's
  // (after every body chunk) are started by the server's next sweep rather
  // than here, so that a request costs no clock read: Date.now() and the
  // Date field's check were 10% of the core's time on Deno (bench/core.mjs
  // under --cpu-prof). They therefore fire up to two sweeps late, never
  // early. The rarer ones start now.
  #setDeadline(kind: DeadlineKind): void {
    if (kind === "linger") this.#lingerEnd = Date.now() + LINGER_MAX_MS;
    const ms = kind === "linger" ? LINGER_MS : this.#timeouts[kind];
    this.deadlineKind = kind;
    if (ms === Infinity) this.deadline = 0;
    else if (kind === "keepAlive" || kind === "body") this.deadline = -Math.max(1, ms);
    else this.deadline = Date.now() + ms;
  }

  // ---------------------------------------------------------------- 1. bytes in

  onData(chunk: Uint8Array): void {
    switch (this.phase) {
      case "head":
      case "body":
        if (this.#stash === null) this.#feed(chunk);
        else this.#hold(chunk);
        return;
      case "handling":
        this.#hold(chunk); // the next request waits for this one's response
        return;
      case "upgraded":
        this.#upgraded!.onData(chunk);
        return;
      default:
        // Closing: dropped; while input keeps coming the linger goes on, up to
        // LINGER_MAX_MS (not during a shutdown, which one client must not hold up).
        if (this.deadlineKind === "linger" && this.deadline !== 0 && !this.#server.shuttingDown) {
          this.deadline = Math.min(Date.now() + LINGER_MS, this.#lingerEnd);
        }
        return;
    }
  }

  #feed(data: Uint8Array, owned = false): void {
    let corked = false;
    try {
      for (;;) {
        let n: number;
        try {
          n = (this.#parser ?? this.#takeParser()).execute(data);
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
          if (this.phase === "upgraded") return;
        }
        if (n >= data.length) break;
        data = data.subarray(n);
        if (this.phase !== "head") {
          if (this.phase === "body" || this.phase === "handling") this.#hold(data, owned);
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
      this.phase === "head" && (this.deadlineKind !== "headers" || this.deadline === 0) && !this.#betweenRequests
    ) {
      this.#setDeadline("headers");
    }
  }

  // A spare parser, or a new one. Spares, not a new parser per request:
  // constructing one cost the core 0.1-0.2 µs per request on Bun and Node
  // (bench/core.mjs).
  #takeParser(): RequestParser {
    const spare = this.#server.parsers.pop();
    if (spare === undefined) return this.#parser = new RequestParser(this, this.#server.options.limits);
    spare.reuse(this);
    return this.#parser = spare;
  }

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
    if (this.#stash.length > PIPELINE_PAUSE) this.#pauseRead();
  }

  #take(): Uint8Array {
    const s = this.#stash!;
    this.#stash = null;
    this.group.release(s.length);
    return s;
  }

  // ---------------------------------------------------------------- 2. the parser's callbacks

  onHead(head: RequestHead): void {
    const ex = new Exchange(head, this.#server.urls.of(head), this.conn, this.group);
    this.#current = ex;
    this.phase = "body";
    if (head.framing === "none") {
      this.deadline = 0;
      this.#dispatch = ex;
      return;
    }
    this.#setDeadline("body");
    const method = head.method;
    if (method === "GET" || method === "HEAD") {
      // A Fetch Request cannot carry a GET/HEAD body: it is framed and
      // discarded, and the handler runs once the framing proved valid.
      this.#discardLeft = Infinity;
      return;
    }
    ex.body = new BodyStream({
      onPull: () => this.#onPull(ex),
      onCancel: () => this.#onCancel(ex),
      account: (n) => (n > 0 ? this.group.charge(n) : this.group.release(-n)),
    }, this.#server.options.bodyHighWater);
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
    if (this.phase === "body") this.phase = "handling";
    ex.body?.close();
    if (!ex.dispatched) this.#dispatch = ex;
    if (this.deadlineKind === "body") this.deadline = 0;
    if (ex.responded) this.#next();
  }

  // The body's reader wants more: 100 Continue if owed, resume the socket.
  // Owed until the final head is on the socket: a response that reads the
  // request's body as its own (`new Response(req.body)`, a pipe through a
  // transform) pulls it while the writer looks at its first chunk, before
  // the head goes out; without the 100 the client would wait its own
  // timeout (curl: 1 s) before sending the body.
  #onPull(ex: Exchange): void {
    if (ex.head.expectContinue && !ex.continueSent && !ex.complete && !(ex.started && this.#headOut)) {
      this.#sendContinue(ex);
    }
    if (this.#readPaused && this.#current === ex) this.#resumeRead();
  }

  #sendContinue(ex: Exchange): void {
    ex.continueSent = true;
    this.conn.write(CONTINUE);
  }

  // The handler does not want the rest of the body: discard it, within reason.
  #onCancel(ex: Exchange): void {
    this.#discardLeft = DISCARD_LIMIT;
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
    // Bytes that arrived while paused, unless they wait for a response.
    if (this.#stash !== null && (this.phase === "head" || this.phase === "body")) this.#feed(this.#take(), true);
  }

  // ---------------------------------------------------------------- 3. the handler

  #run(ex: Exchange): void {
    ex.dispatched = true;
    const server = this.#server;
    const limit = this.#timeouts.handler;
    if (limit !== Infinity) this.handlerDeadline = Date.now() + limit;
    let result: Response | Promise<Response>;
    try {
      result = runWithGroup(ex, server.handler, ex.request as unknown as Request, ex);
    } catch (e) {
      void this.#failed(ex, e);
      return;
    }
    // Not a promise (nearly always a Response): answered in this turn; a
    // wrong value gets its 500 from #respond. (A property read, where
    // `instanceof Response` calls the light Response's hasInstance; guarded,
    // because a getter or a revoked Proxy can throw.)
    let thenable: boolean;
    try {
      thenable = typeof (result as { then?: unknown } | null | undefined)?.then === "function";
    } catch (e) {
      void this.#failed(ex, e);
      return;
    }
    if (!thenable) void this.#respond(ex, result as Response);
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
    // decided as for any response (a framing error already marked it broken).
    if (error instanceof HttpError) return this.#respond(ex, error.toResponse());
    ex.recovery = 1;
    let response: Response;
    try {
      response = await this.#server.onError(error);
      if (!isResponse(response)) throw new TypeError("onError did not return a Response");
    } catch (e) {
      console.error("portico: onError failed:", e);
      response = new Response("Internal Server Error", { status: 500 });
    }
    return this.#respond(ex, response);
  }

  /**
   * The running handler has not started its response by `timeouts.handler`:
   * its request group shuts down (its signal aborts), the client gets a 503
   * and the connection closes (issue 12.7). Called by the server's sweeper.
   */
  handlerTimeout(): void {
    this.handlerDeadline = 0;
    const ex = this.#current;
    if (ex === null || ex.started || ex.responded || this.phase === "closed") return;
    ex.abort(new DOMException("The handler did not answer in time", "TimeoutError"));
    ex.finish();
    this.#framingBroken = true;
    if (this.phase !== "closing") {
      const body = "Service Unavailable: the handler did not answer in time\n";
      this.conn.write(encodeHead(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ndate: ${httpDate()}\r\n` +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      ));
    }
    this.#close();
  }

  // ---------------------------------------------------------------- 4. the response

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
    if (this.phase === "closing" || this.phase === "closed" || this.group.closed) {
      // The client is gone, or the connection's group was shut down (budget,
      // server shutdown) while the handler ran: nothing more goes out.
      void response.body?.cancel().catch(() => {});
      ex.finish();
      this.#destroy();
      return;
    }
    const upgrade = upgradeOf(response);
    if (upgrade !== undefined) return this.#upgrade(ex, upgrade);
    let keepAlive = ex.head.keepAlive && !this.#closeAfterResponse && !this.#peerEnded &&
      !this.#server.shuttingDown && !this.#framingBroken;
    if (keepAlive && !ex.complete) keepAlive = this.#canDiscardRest(ex, response);
    ex.started = true;
    this.#headOut = false;
    let written: boolean | Promise<boolean>;
    try {
      written = writeResponse(this, ex.head, response, keepAlive);
    } catch (e) {
      return this.#notWritten(ex, e);
    }
    if (typeof written === "boolean") return this.#responded(ex, written);
    return written.then((k) => this.#responded(ex, k), (e) => this.#notWritten(ex, e));
  }

  // The writer failed. Before any byte went out (a body already read or
  // locked, a stream that failed before its first chunk) the client can
  // still be told: a 500 through onError, as for a handler that failed; if
  // onError's response fails so too, the plain 500 (a string, which cannot
  // fail); after that the connection ends. A failure caused by the
  // client's leaving (its FIN aborted the request and shut its group,
  // closing the file a static response was about to read: a seek, a page
  // left) is no server error: the connection just ends. Any other failure
  // is answered, to a client that half-closed too.
  #notWritten(ex: Exchange, e: unknown): void | Promise<void> {
    const causedByLeaving = ex.abortReason !== undefined && isAbortOf(e, ex.abortReason);
    if (this.#headOut || ex.recovery === 2 || this.phase === "closed" || causedByLeaving) {
      return this.#writeFailed(ex, e);
    }
    ex.started = false;
    if (ex.recovery === 0) return this.#failed(ex, e);
    console.error("portico: onError's response could not be sent:", e);
    ex.recovery = 2;
    return this.#respond(ex, new Response("Internal Server Error", { status: 500 }));
  }

  /** {@link ResponseSink}: queues bytes on the socket; false when it is above its high-water mark. */
  write(chunk: Uint8Array): boolean {
    if (this.phase === "closed") return true;
    if (!this.#headOut) this.#firstWrite();
    if (this.conn.write(chunk)) return true;
    this.#drainOwed = true;
    return false;
  }

  // The response's first bytes. A streamed response that has taken the
  // request's body stream (it will read it) while the client still waits
  // for 100 Continue gets the 100 first: after the final head it could not
  // be sent.
  #firstWrite(): void {
    this.#headOut = true;
    const ex = this.#current;
    if (ex !== null && ex.head.expectContinue && !ex.continueSent && !ex.complete && ex.locked) this.#sendContinue(ex);
  }

  /** {@link ResponseSink}: holds writes until `uncork()`, where the adapter can. */
  cork(): void {
    this.conn.cork?.();
  }

  /** {@link ResponseSink}: sends what `cork()` held. */
  uncork(): void {
    this.conn.uncork?.();
  }

  /** {@link ResponseSink}: true once the socket is gone. */
  get closed(): boolean {
    return this.phase === "closed";
  }

  /** {@link ResponseSink}: what the writer does when the client goes away while a body is written. */
  onGone(fn: ((reason: unknown) => void) | null): void {
    this.#onGone = fn;
    // The client's FIN came before the body's pump began (on Deno it can
    // follow the request in the very next read, before a handler's stream
    // is taken up): the body is cut as it would have been a moment later.
    const ex = this.#current;
    if (fn !== null && this.#peerEnded && ex !== null && ex.abortReason !== undefined) this.#gone(ex.abortReason);
  }

  // The client went away: a body being written is cancelled now.
  #gone(reason: unknown): void {
    const fn = this.#onGone;
    this.#onGone = null;
    fn?.(reason);
  }

  /** {@link ResponseSink}: waits until the socket can take more (or is gone), under the send deadline. */
  waitWritable(): Promise<void> {
    if (this.phase === "closed" || !this.#drainOwed) return Promise.resolve();
    this.#setDeadline("send");
    return new Promise((r) => {
      this.#writableWaiter = () => {
        this.deadline = 0;
        r();
      };
    });
  }

  /** The socket is writable again (the adapter's `onDrain`). */
  onDrain(): void {
    if (this.phase === "upgraded") return this.#upgraded!.onDrain();
    this.#drainOwed = false;
    const sent = this.#unsent;
    if (sent !== null) {
      this.#unsent = null;
      sent.finish();
    }
    // Sent: an idle connection now waits for its next request, a closing one lingers.
    if (this.deadlineKind === "send" && this.#writableWaiter === null) {
      if (this.phase === "closing") this.#setDeadline("linger");
      else if (this.phase === "head" && this.idle) this.#setDeadline("keepAlive");
    }
    this.#wakeWriter();
  }

  // A writer waiting in waitWritable() goes on (the socket drained, or is gone).
  #wakeWriter(): void {
    const w = this.#writableWaiter;
    this.#writableWaiter = null;
    w?.();
  }

  // The head went out but the body failed: the framing is broken, so the
  // only honest signal left is to cut the connection.
  #writeFailed(ex: Exchange, e: unknown): void {
    // A body that failed because its client went away (a FIN aborts the
    // request and shuts its group, closing a file the body reads) is not a
    // server error (12.8, 18.7).
    if (this.phase !== "closed" && ex.abortReason === undefined) console.error("portico: response body failed:", e);
    ex.finish();
    this.#destroy();
  }

  // A 101: write its head, stop parsing HTTP, hand the socket and the bytes
  // that came after the request head to the upgrade handler.
  #upgrade(ex: Exchange, upgrade: UpgradeRequest): void | Promise<void> {
    const shuttingDown = this.#server.shuttingDown;
    if (!ex.complete || this.#framingBroken || this.#closeAfterResponse || shuttingDown) {
      // The socket is not clean (an unread body, a broken or closing
      // connection, a server shutting down): no upgrade.
      const why = shuttingDown ? "the server is shutting down" : "the request's body was not read";
      return this.#respond(ex, new Response(`Upgrade refused: ${why}\n`, { status: shuttingDown ? 503 : 500 }));
    }
    ex.started = true;
    let head = "HTTP/1.1 101 Switching Protocols\r\n";
    for (const [name, value] of upgrade.headers) head += `${name}: ${value}\r\n`;
    this.conn.write(encodeHead(head + "\r\n"));
    this.deadline = 0;
    this.phase = "upgraded";
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

  // ---------------------------------------------------------------- 5. after the response

  #responded(ex: Exchange, keepAlive: boolean): void {
    if (this.#drainOwed && this.phase !== "closed") this.#finishWhenSent(ex);
    else ex.finish();
    if (this.phase === "closed") return;
    if (!keepAlive) this.#closeAfterResponse = true;
    if (ex.complete) this.#next();
    else if (this.#closeAfterResponse) this.#close();
    else {
      // Discard the rest of the unread body, then go on.
      if (ex.body !== null && !ex.body.done) ex.body.cancel();
      this.#discardLeft = Math.max(this.#discardLeft, DISCARD_LIMIT);
      if (this.#readPaused) this.#resumeRead();
    }
  }

  #finishWhenSent(ex: Exchange): void {
    // One at a time: an earlier one still waiting counts as sent (the
    // answers to pipelined requests drain together).
    this.#unsent?.finish();
    ex.sending();
    this.#unsent = ex;
  }

  // Whether the rest of an unread body may be read and thrown away so that
  // the connection is kept; otherwise it closes after the response.
  #canDiscardRest(ex: Exchange, response: Response): boolean {
    // A body whose stream is taken (a pipe through a transform) or that the
    // response carries (`new Response(req.body)`, whose writer has not
    // locked it yet) is being read, whatever its size, and its 100 Continue
    // goes out ahead of the head; what its reader leaves is discarded like
    // any other rest, up to DISCARD_LIMIT, then the connection closes.
    const reading = ex.locked || (ex.body !== null && ex.body.carriedBy(response));
    if (ex.head.expectContinue && !ex.continueSent && !reading) return false; // the client may never send it
    if (ex.head.framing === "length") return ex.head.contentLength <= DISCARD_LIMIT || reading;
    // Chunked and not read: its size cannot be known, so the response says
    // `Connection: close` rather than promise a connection that closes after
    // DISCARD_LIMIT (a pooled client's next request then failed).
    return reading;
  }

  // The exchange is over (request complete, response written): the next
  // request, or the close.
  #next(): void {
    this.#current = null;
    if (this.phase === "closing" || this.phase === "closed") return;
    this.phase = "head";
    if (this.#closeAfterResponse) {
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
      if (this.phase === "head" && this.#peerEnded && this.#stash === null) this.#close();
      return;
    }
    if (this.#peerEnded || this.#server.shuttingDown) {
      this.#close();
      return;
    }
    if (this.#readPaused) {
      this.#readPaused = false;
      this.conn.resume();
    }
    // Idle until the next request: the parser goes back to the server's
    // spares, unless the chunk being parsed has more bytes (pipelined
    // requests, #unparsed), which #feed parses next.
    const parser = this.#parser;
    if (parser !== null && this.#unparsed === null) {
      this.#parser = null;
      if (this.#server.parsers.length < SPARE_PARSERS) this.#server.parsers.push(parser);
    }
    // A response the socket has not taken yet (a large whole body to a slow
    // client) is still being sent: the send deadline, not the keep-alive one,
    // until it drains (onDrain). Closing then dropped what was queued.
    this.#setDeadline(this.#drainOwed ? "send" : "keepAlive");
  }

  // ---------------------------------------------------------------- the client's end, errors, deadlines

  onEnd(): void {
    if (this.phase === "upgraded") return this.#upgraded!.onEnd();
    this.#peerEnded = true;
    const ex = this.#current;
    if (ex === null) {
      if (this.#stash === null) this.#close();
      return;
    }
    if (!ex.complete) {
      // The client stopped sending mid-body: that body can never complete.
      this.#framingBroken = true;
      ex.body?.error(new HttpError("BODY_INCOMPLETE", "client closed the connection before the body was complete"));
      if (ex.responded) this.#close();
      else this.#closeAfterResponse = true;
    }
    // Like node:http and Deno's and Bun's built-in servers, a FIN before the response
    // is complete counts as the client going away; the response is still
    // written if the handler produces one (the socket is half-open); a
    // streamed body already being written is cancelled now, and cut.
    if (!ex.responded) {
      ex.abort(clientGone());
      this.#gone(ex.abortReason);
      // During a graceful shutdown a client that left holds nothing up
      // (issue 12.2): close now. Otherwise the handler may still answer;
      // it gets the send timeout to do so.
      if (this.#server.shuttingDown) this.#endForGone(ex);
      else this.#setDeadline("send");
    }
  }

  onClose(error?: Error): void {
    if (this.phase === "closed") return;
    const upgraded = this.#upgraded;
    this.phase = "closed";
    this.deadline = 0;
    this.handlerDeadline = 0;
    const ex = this.#current;
    if (ex !== null && !ex.responded) ex.abort(clientGone(error));
    // (Asked only while a body is pumped: a reason is an Error, with its
    // stack, not to be built at every connection's close.)
    if (this.#onGone !== null) this.#gone(ex?.abortReason ?? clientGone(error));
    const unsent = this.#unsent;
    if (unsent !== null) {
      // The client went away before the response's last bytes left.
      this.#unsent = null;
      unsent.abort(clientGone(error));
      unsent.finish();
    }
    if (upgraded !== null) {
      try {
        upgraded.onClose(error);
      } catch (e) {
        console.error("portico: upgraded connection's onClose failed:", e);
      }
    } else this.#wakeWriter();
    this.#server.forget(this);
    // The connection's group holds the request group, which an upgrade kept open.
    void this.group.shutdown();
  }

  #protocolError(e: unknown): void {
    this.#framingBroken = true;
    if (!(e instanceof HttpError)) {
      console.error("portico: internal error while parsing:", e);
      this.#destroy();
      return;
    }
    const ex = this.#current;
    if (ex !== null && ex.dispatched) {
      // The error is in the body of a request already being handled: its
      // reader gets what came before it, then the error.
      ex.body?.fail(e);
      this.#closeAfterResponse = true;
      if (ex.responded) this.#close();
      return;
    }
    this.#current = null;
    this.phase = "head";
    if (this.#stash !== null) this.#take();
    const body = e.message + "\n";
    const head = `HTTP/1.1 ${e.status} ${reasonPhrase(e.status)}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `date: ${httpDate()}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
    this.conn.write(encodeHead(head + body));
    this.#close();
  }

  /** Called by the server's sweeper when `deadline` has passed. */
  timeout(): void {
    const kind = this.deadlineKind;
    this.deadline = 0;
    if (this.phase === "closed") return;
    if (kind === "keepAlive" && this.idle) return this.#close();
    if (kind === "headers" && this.#current === null) {
      if (this.#betweenRequests && this.#stash === null) return this.#close();
      this.#framingBroken = true;
      // One line saying what went wrong, as every error answer of the server's own.
      const body = "request head timed out\n";
      const head =
        `HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ndate: ${httpDate()}\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
      this.conn.write(encodeHead(head + body));
      return this.#close();
    }
    if (kind === "body" && this.#current !== null && !this.#current.complete) {
      this.#framingBroken = true;
      this.#closeAfterResponse = true;
      this.#current.body?.error(new HttpError("REQUEST_TIMEOUT", "request body timed out"));
      if (this.#current.responded || this.#current.body === null) this.#close();
      return;
    }
    this.#destroy();
  }

  // ---------------------------------------------------------------- closing

  /** Closes gracefully: FIN after what is queued, then read and drop until the peer closes (or LINGER_MS). */
  #close(): void {
    if (this.phase === "closing" || this.phase === "closed") return;
    this.phase = "closing";
    if (this.#stash !== null) this.#take();
    if (this.#readPaused) {
      this.#readPaused = false;
      this.conn.resume();
    }
    this.conn.end();
    // end() sends what is queued first; the linger (read and drop for 2 s)
    // starts once it has gone, or the send deadline cuts a client that stopped reading.
    this.#setDeadline(this.#drainOwed ? "send" : "linger");
  }

  #destroy(): void {
    if (this.phase === "closed") return;
    this.phase = "closing";
    this.conn.destroy();
  }

  // During a graceful shutdown, a client that left (its FIN aborted the
  // request) holds nothing up: closed if its response has not started, cut
  // if it has (a response under way cannot end cleanly).
  #endForGone(ex: Exchange): void {
    if (ex.started) this.#destroy();
    else this.#close();
  }

  /**
   * Graceful server shutdown: close now if idle; end now if the client
   * already left (it can hold nothing up: closed before its response
   * started, cut during it); otherwise close after the current response.
   * An upgraded connection is asked to close its protocol
   * (`closeGracefully()`).
   */
  closeGracefully(): void {
    if (this.phase === "upgraded") {
      try {
        this.#upgraded!.closeGracefully();
      } catch (e) {
        console.error("portico: upgraded connection's closeGracefully failed:", e);
        this.#destroy();
      }
      return;
    }
    const ex = this.#current;
    if (this.idle) this.#close();
    else if (this.#peerEnded && ex !== null && ex.abortReason !== undefined) this.#endForGone(ex);
    else this.#closeAfterResponse = true;
  }

  /**
   * Closes the connection now (server shutdown, at once or at its bound):
   * the socket is destroyed and the exchange ends here, not when the runtime
   * reports the close (Node does so a turn later), so that the request's
   * signal has aborted by the time `shutdown()` resolves.
   */
  destroy(): void {
    this.#destroy();
    this.onClose();
  }

  /** The connection's group closes it so (adopted as it is, see ResourceGroup.adopt). */
  [Symbol.dispose](): void {
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
