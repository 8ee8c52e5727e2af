/**
 * What all connections of one server share: the handler, limits, timeouts,
 * the set of live connections and the sweeper that enforces deadlines.
 *
 * Deadlines are plain numbers on each connection, checked by one timer per
 * server, rather than a timer per request: arming a timer for every request
 * would cost more than parsing it.
 *
 * @module
 */

import { type Conn, type ConnHandler, formatAddr, type NetAddr } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";
import { encodeHead, holdDateClock, httpDate } from "../http/response.ts";
import type { Handler } from "../types.ts";
import { type ConnectionServer, HttpConnection } from "./connection.ts";
import type { ServerOptions } from "./options.ts";
import { RequestUrls } from "./request_url.ts";
import type { RequestParser } from "../http/parser.ts";

/** What the server learns once its listener is bound. */
export interface Listening {
  /** The listener's `host:port`, the Host of HTTP/1.0 requests without one. */
  readonly host: string;
  /** Stops accepting, where the listener can (Deno). */
  readonly pauseAccept?: () => void;
  /** Accepts again after `pauseAccept`. */
  readonly resumeAccept?: () => void;
}

/** The state one server's connections share. */
export class ServerCore implements ConnectionServer {
  readonly handler: Handler<NetAddr>;
  readonly onError: (error: unknown) => Response | Promise<Response>;
  readonly options: ServerOptions;
  readonly group: ResourceGroup;
  readonly connections: Set<HttpConnection> = new Set();
  readonly parsers: RequestParser[] = [];
  #urls: RequestUrls;
  #shuttingDown = false;
  #sweeper: ReturnType<typeof setInterval> | null = null;
  // While the sweeper runs (the server has connections), the Date field's
  // clock is held: responses read no clock (response.ts).
  #releaseDate: () => void = () => {};
  #unref = false;
  #idle: (() => void) | null = null;
  #parked: Parked[] = [];
  #rejecting = 0; // sockets answered 503, not closed yet
  #pauseAccept: (() => void) | undefined;
  #resumeAccept: (() => void) | undefined;

  /** A server core for `handler`, configured once and for all by `options`; its connections' groups are children of `group`. */
  constructor(
    handler: Handler<NetAddr>,
    onError: (error: unknown) => Response | Promise<Response>,
    options: ServerOptions,
    group: ResourceGroup,
  ) {
    this.handler = handler;
    this.onError = onError;
    this.options = options;
    this.group = group;
    this.#urls = new RequestUrls(options.scheme, "localhost");
  }

  /** The listener is bound: its address (for requests without Host) and its accept controls. */
  listening(l: Listening): void {
    this.#urls = new RequestUrls(this.options.scheme, l.host);
    this.#pauseAccept = l.pauseAccept;
    this.#resumeAccept = l.resumeAccept;
  }

  /** Builds request URLs; HTTP/1.0 requests without Host get the listener's `host:port` (`localhost` for a wildcard address). */
  get urls(): RequestUrls {
    return this.#urls;
  }

  /** True once a graceful shutdown began. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Takes a newly accepted connection. */
  accept(conn: Conn): ConnHandler {
    const group = this.group.child({
      name: groupName(conn.remoteAddr),
      bytes: this.options.limits.connectionBytes,
    });
    if (this.#unref) conn.unref();
    if (this.connections.size + this.#parked.length >= this.options.limits.maxConnections) {
      if (this.options.limits.atMaxConnections === "reject" || this.#shuttingDown) return this.reject(conn, group);
      // Full: park the connection unread until a slot frees, and ask the
      // listener to stop accepting (where it can) so the rest wait in the
      // kernel's backlog.
      const parked = new Parked(conn, group, this);
      group.defer(() => conn.destroy());
      this.#parked.push(parked);
      conn.pause();
      this.#pauseAccept?.();
      return parked;
    }
    return this.open(conn, group);
  }

  /** Starts serving `conn` (now, or when it leaves the parking queue). */
  open(conn: Conn, group: ResourceGroup): HttpConnection {
    const c = new HttpConnection(conn, this, group);
    group.adopt(c);
    this.connections.add(c);
    if (this.#shuttingDown) c.closeGracefully();
    if (this.#sweeper === null) {
      this.#sweeper = setInterval(() => this.#sweep(), this.options.sweepMs);
      this.#sweeper.unref?.();
      this.#releaseDate = holdDateClock();
    }
    return c;
  }

  /** Answers 503 (too many connections, or shutting down) and closes. */
  reject(conn: Conn, group: ResourceGroup): ConnHandler {
    const body = this.#shuttingDown
      ? "Service Unavailable: the server is shutting down\n"
      : "Service Unavailable: too many connections\n";
    // A graceful shutdown waits for these too: the root group's finaliser
    // destroys every socket, which could reset the 503 before it is read.
    this.#rejecting++;
    conn.write(encodeHead(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
        `date: ${httpDate()}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
    ));
    // The FIN waits for the request (or 100 ms): closing a socket whose
    // request bytes arrive afterwards would turn the close into a reset that
    // can destroy the 503 before the client reads it.
    let ended = false;
    const end = () => {
      if (!ended) {
        ended = true;
        conn.end();
      }
    };
    const soon = setTimeout(end, 100);
    const linger = setTimeout(() => conn.destroy(), 2000);
    soon.unref?.();
    linger.unref?.();
    group.defer(() => conn.destroy());
    return {
      onData: end,
      onDrain() {},
      onEnd: end,
      onClose: () => {
        clearTimeout(soon);
        clearTimeout(linger);
        void group.shutdown();
        this.#rejecting--;
        this.#wakeIfIdle();
      },
    };
  }

  /** A parked connection closed before its turn. */
  unpark(p: Parked): void {
    const i = this.#parked.indexOf(p);
    if (i >= 0) this.#parked.splice(i, 1);
  }

  /** A connection closed. */
  forget(c: HttpConnection): void {
    this.connections.delete(c);
    const max = this.options.limits.maxConnections;
    while (this.#parked.length > 0 && this.connections.size < max && !this.#shuttingDown) {
      this.#parked.shift()!.activate();
    }
    if (this.#parked.length === 0 && this.connections.size < max) this.#resumeAccept?.();
    if (this.connections.size === 0) {
      if (this.#sweeper !== null) {
        clearInterval(this.#sweeper);
        this.#sweeper = null;
        this.#releaseDate();
      }
      this.#wakeIfIdle();
    }
  }

  // A graceful shutdown waiting for the last connection (and the last 503) goes on.
  #wakeIfIdle(): void {
    if (this.connections.size > 0 || this.#rejecting > 0) return;
    const w = this.#idle;
    this.#idle = null;
    w?.();
  }

  #sweep(): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (c.handlerDeadline !== 0 && now >= c.handlerDeadline) c.handlerTimeout();
      const d = c.deadline;
      if (d < 0) c.deadline = now - d; // started by this sweep (HttpConnection.#setDeadline)
      else if (d !== 0 && now >= d) c.timeout();
    }
  }

  /**
   * Graceful shutdown: close idle connections, let busy ones finish
   * (upgraded ones close their protocol); resolves when none is left.
   */
  shutdownGracefully(): Promise<void> {
    this.#shuttingDown = true;
    // Clients still waiting for a slot get the 503 a new one would: their
    // requests were never started, so a retry elsewhere is safe.
    for (const p of this.#parked.splice(0)) p.reject();
    if (this.connections.size === 0 && this.#rejecting === 0) return Promise.resolve();
    const done = new Promise<void>((r) => (this.#idle = r));
    for (const c of this.connections) c.closeGracefully();
    return done;
  }

  /** Forced shutdown: every connection (parked ones too) is destroyed now. */
  destroyAll(): void {
    this.#shuttingDown = true;
    for (const p of this.#parked.splice(0)) p.destroy();
    for (const c of this.connections) c.destroy();
  }

  /** Applies ref/unref to every connection, present and future. */
  setRef(ref: boolean): void {
    this.#unref = !ref;
    for (const c of this.connections) {
      if (ref) c.conn.ref();
      else c.conn.unref();
    }
  }
}

/**
 * A connection accepted while the server was full: unread (paused) until
 * `activate()`, keeping whatever arrived before the pause took effect.
 */
class Parked implements ConnHandler {
  #conn: Conn;
  #group: ResourceGroup;
  #core: ServerCore;
  #held: Uint8Array[] = [];
  #ended = false;
  #target: ConnHandler | null = null;

  constructor(conn: Conn, group: ResourceGroup, core: ServerCore) {
    this.#conn = conn;
    this.#group = group;
    this.#core = core;
  }

  activate(): void {
    this.#handOver(this.#core.open(this.#conn, this.#group));
  }

  reject(): void {
    this.#handOver(this.#core.reject(this.#conn, this.#group));
  }

  #handOver(c: ConnHandler): void {
    this.#target = c;
    this.#conn.resume();
    for (const chunk of this.#held.splice(0)) c.onData(chunk);
    if (this.#ended) c.onEnd();
  }

  destroy(): void {
    this.#conn.destroy();
  }

  onData(chunk: Uint8Array): void {
    if (this.#target) this.#target.onData(chunk);
    else this.#held.push(new Uint8Array(chunk)); // a copy, even of a Buffer
  }

  onDrain(): void {
    this.#target?.onDrain();
  }

  onEnd(): void {
    if (this.#target) this.#target.onEnd();
    else this.#ended = true;
  }

  onClose(error?: Error): void {
    if (this.#target) return this.#target.onClose(error);
    this.#core.unpark(this);
    void this.#group.shutdown();
  }
}

// "conn 127.0.0.1:41916" as one flat string: a template literal builds a
// chain of pieces (120 bytes on V8, kept by every connection's group), a
// join one string of ~40.
function groupName(addr: NetAddr): string {
  return ["conn ", formatAddr(addr)].join("");
}
