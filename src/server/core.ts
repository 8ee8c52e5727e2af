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

import type { Conn, ConnHandler } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";
import type { ParserLimits } from "../http/parser.ts";
import { clearInterval, setInterval } from "node:timers";
import type { Handler } from "../types.ts";
import { HttpConnection } from "./connection.ts";

/** Resolved timeouts in ms (Infinity: none). */
export interface Timeouts {
  headers: number;
  body: number;
  keepAlive: number;
  send: number;
}

/** The defaults, as the README's table lists them. */
export const DEFAULT_TIMEOUTS: Timeouts = { headers: 10_000, body: 30_000, keepAlive: 5_000, send: 30_000 };

/** The state one server's connections share. */
export class ServerCore {
  readonly handler: Handler;
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

  constructor(
    handler: Handler,
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
    const shortest = Math.min(timeouts.headers, timeouts.body, timeouts.keepAlive, timeouts.send);
    this.#sweepMs = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** Takes a newly accepted connection. */
  accept(conn: Conn): ConnHandler {
    const group = this.group.child({ name: `conn ${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`, bytes: this.#connectionBytes });
    const c = new HttpConnection(conn, this, group);
    group.defer(() => c.destroy());
    this.connections.add(c);
    if (this.#unref) conn.unref();
    if (this.draining) c.drain();
    if (this.#sweeper === null) {
      this.#sweeper = setInterval(() => this.#sweep(), this.#sweepMs);
      this.#sweeper.unref?.();
    }
    return c;
  }

  /** A connection closed. */
  forget(c: HttpConnection): void {
    this.connections.delete(c);
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
      if (c.deadline !== 0 && now >= c.deadline) c.timeout();
    }
  }

  /** Graceful: close idle connections, let busy ones finish; resolves when none is left. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.connections.size === 0) return Promise.resolve();
    const done = new Promise<void>((r) => (this.#idle = r));
    for (const c of this.connections) c.drain();
    return done;
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
