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

import { type Conn, type ConnHandler, formatAddr } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";
import type { ParserLimits } from "../http/parser.ts";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";
import { encodeHead } from "../http/response.ts";
import type { Handler } from "../types.ts";
import type { NetAddr } from "../adapter.ts";
import { HttpConnection } from "./connection.ts";
import { BODY_HIGH_WATER } from "./body.ts";

/** Resolved timeouts in ms (Infinity: none). */
export interface Timeouts {
  headers: number;
  body: number;
  keepAlive: number;
  send: number;
  /** A handler must have started its response within this (Infinity: no limit, the default). */
  handler: number;
  /** Bound on a graceful shutdown, after which everything still open is closed. */
  shutdown: number;
}

/** The defaults, as the README's table lists them. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  headers: 10_000,
  body: 30_000,
  keepAlive: 5_000,
  send: 30_000,
  handler: Infinity,
  shutdown: 30_000,
};

/** The state one server's connections share. */
export class ServerCore {
  readonly handler: Handler<NetAddr>;
  readonly onError: (error: unknown) => Response | Promise<Response>;
  readonly limits: ParserLimits;
  readonly timeouts: Timeouts;
  readonly group: ResourceGroup;
  readonly connections: Set<HttpConnection> = new Set();
  scheme = "http://";
  defaultHost = "localhost";
  draining = false;
  #sweeper: ReturnType<typeof setInterval> | null = null;
  #sweepMs: number;
  #unref = false;
  #idle: (() => void) | null = null;
  #connectionBytes: number;
  #parked: Parked[] = [];
  /**
   * Unread body bytes queued before the socket is paused: below the
   * connection's budget, so that the budget bounds them by backpressure.
   */
  readonly bodyHighWater: number;
  /** Most connections served at once. */
  maxConnections: number = Infinity;
  /** At `maxConnections`: wait (park, stop accepting) or answer 503 at once. */
  overflow: "wait" | "reject" = "wait";
  /** Set by serve() when the listener can stop accepting. */
  pauseAccept: (() => void) | undefined;
  /** Set by serve() when the listener can stop accepting. */
  resumeAccept: (() => void) | undefined;

  constructor(
    handler: Handler<NetAddr>,
    onError: (error: unknown) => Response | Promise<Response>,
    limits: ParserLimits & { connectionBytes: number },
    timeouts: Timeouts,
    group: ResourceGroup,
  ) {
    this.handler = handler;
    this.onError = onError;
    this.limits = limits;
    this.timeouts = timeouts;
    this.group = group;
    this.#connectionBytes = limits.connectionBytes;
    this.bodyHighWater = Math.max(1, Math.min(BODY_HIGH_WATER, Math.floor(limits.connectionBytes / 2)));
    const shortest = Math.min(timeouts.headers, timeouts.body, timeouts.keepAlive, timeouts.send, timeouts.handler);
    this.#sweepMs = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** Takes a newly accepted connection. */
  accept(conn: Conn): ConnHandler {
    const group = this.group.child({
      name: `conn ${formatAddr(conn.remoteAddr)}`,
      bytes: this.#connectionBytes,
    });
    if (this.#unref) conn.unref();
    if (this.connections.size + this.#parked.length >= this.maxConnections) {
      if (this.overflow === "reject" || this.draining) return this.#reject(conn, group);
      // Full: park the connection unread until a slot frees, and ask the
      // listener to stop accepting (where it can) so the rest wait in the
      // kernel's backlog.
      const parked = new Parked(conn, group, this);
      group.defer(() => conn.destroy());
      this.#parked.push(parked);
      conn.pause();
      this.pauseAccept?.();
      return parked;
    }
    return this.open(conn, group);
  }

  /** Starts serving `conn` (now, or when it leaves the parking queue). */
  open(conn: Conn, group: ResourceGroup): HttpConnection {
    const c = new HttpConnection(conn, this, group);
    group.defer(() => c.destroy());
    this.connections.add(c);
    if (this.draining) c.drain();
    if (this.#sweeper === null) {
      this.#sweeper = setInterval(() => this.#sweep(), this.#sweepMs);
      this.#sweeper.unref?.();
    }
    return c;
  }

  #reject(conn: Conn, group: ResourceGroup): ConnHandler {
    const body = "Service Unavailable: too many connections\n";
    conn.write(encodeHead(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
        `retry-after: 1\r\nconnection: close\r\n\r\n${body}`,
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
      onClose() {
        clearTimeout(soon);
        clearTimeout(linger);
        void group.shutdown();
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
    while (this.#parked.length > 0 && this.connections.size < this.maxConnections && !this.draining) {
      this.#parked.shift()!.activate();
    }
    if (this.#parked.length === 0 && this.connections.size < this.maxConnections) this.resumeAccept?.();
    if (this.connections.size === 0) {
      if (this.#sweeper !== null) {
        clearInterval(this.#sweeper);
        this.#sweeper = null;
      }
      const w = this.#idle;
      this.#idle = null;
      w?.();
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (c.handlerDeadline !== 0 && now >= c.handlerDeadline) c.handlerTimeout();
      if (c.deadline !== 0 && now >= c.deadline) c.timeout();
    }
  }

  /** Graceful: close idle connections, let busy ones finish; resolves when none is left. */
  drain(): Promise<void> {
    this.draining = true;
    for (const p of this.#parked.splice(0)) p.close();
    if (this.connections.size === 0) return Promise.resolve();
    const done = new Promise<void>((r) => (this.#idle = r));
    for (const c of this.connections) c.drain();
    return done;
  }

  /** Forced shutdown: every connection (parked ones too) is destroyed now. */
  destroyAll(): void {
    this.draining = true;
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
  #target: HttpConnection | null = null;

  constructor(conn: Conn, group: ResourceGroup, core: ServerCore) {
    this.#conn = conn;
    this.#group = group;
    this.#core = core;
  }

  activate(): void {
    const c = this.#target = this.#core.open(this.#conn, this.#group);
    this.#conn.resume();
    for (const chunk of this.#held.splice(0)) c.onData(chunk);
    if (this.#ended) c.onEnd();
  }

  close(): void {
    this.#conn.end();
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
