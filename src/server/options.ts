/**
 * Every default of the server in one place, and the one frozen options
 * object a server is built with.
 *
 * `resolveOptions()` turns what the user passed to `serve()` into
 * {@link ServerOptions}: each limit and timeout filled in, the values the
 * server derives from them computed once, and the whole frozen, so that
 * nothing configures the server after it is built. The tuning constants
 * that are not options (how much unread body is discarded, how long a
 * closing connection lingers…) sit beside the defaults, with why they have
 * their values.
 *
 * @module
 */

import { DEFAULT_LIMITS } from "../http/parser.ts";
import type { ServeOptions } from "../types.ts";

/** Resolved timeouts in ms (`Infinity`: none). */
export interface Timeouts {
  /** The whole request head must arrive within it. */
  readonly headers: number;
  /** The longest a request body may sit idle. */
  readonly body: number;
  /** The longest an idle keep-alive connection is kept. */
  readonly keepAlive: number;
  /** The longest a client may stop reading a response. */
  readonly send: number;
  /** A handler must have started its response within it. */
  readonly handler: number;
  /** Bound on a graceful shutdown, after which everything still open is closed. */
  readonly shutdown: number;
}

/** Resolved limits. */
export interface Limits {
  /** Longest request-target (414 beyond). */
  readonly maxUrlBytes: number;
  /** Largest header section (431 beyond). */
  readonly maxHeaderBytes: number;
  /** Largest request body (413 beyond). */
  readonly maxBodyBytes: number;
  /** Byte budget of one connection's buffers. */
  readonly connectionBytes: number;
  /** Most connections served at once. */
  readonly maxConnections: number;
  /** At `maxConnections`: wait (park, stop accepting) or answer 503 at once. */
  readonly atMaxConnections: "wait" | "reject";
}

/** What a server is built with: resolved, derived, frozen. */
export interface ServerOptions {
  /** The limits, every one set. */
  readonly limits: Limits;
  /** The timeouts, every one set. */
  readonly timeouts: Timeouts;
  /** `"https://"` with TLS, else `"http://"`: the scheme of `request.url`. */
  readonly scheme: "http://" | "https://";
  /**
   * Unread body bytes queued before the socket is paused: {@link BODY_HIGH_WATER},
   * or half the connection's budget if that is smaller, so that the budget
   * bounds them by backpressure, never by closing the connection.
   */
  readonly bodyHighWater: number;
  /** How often the sweeper checks deadlines: a quarter of the shortest timeout, within 10 ms–1 s. */
  readonly sweepMs: number;
}

/** The defaults of the user's options, as the README's table lists them. */
export const DEFAULTS: { readonly limits: Limits; readonly timeouts: Timeouts } = Object.freeze({
  limits: Object.freeze({
    ...DEFAULT_LIMITS,
    connectionBytes: 1024 * 1024,
    maxConnections: Infinity,
    atMaxConnections: "wait" as const,
  }),
  timeouts: Object.freeze({
    headers: 10_000,
    body: 30_000,
    keepAlive: 5_000,
    send: 30_000,
    handler: Infinity,
    shutdown: 30_000,
  }),
});

/**
 * Unread body bytes queued before the socket is paused (at most). A
 * handler that reads its body whole takes everything as it comes instead.
 */
export const BODY_HIGH_WATER: number = 64 * 1024;

/**
 * An unread request body up to this size is read and thrown away after the
 * response, so that the connection can be reused; a larger one closes the
 * connection instead (reading it would cost more than a new connection).
 */
export const DISCARD_LIMIT: number = 256 * 1024;

/**
 * Bytes of pipelined requests held while a response is pending, beyond
 * which the socket is paused.
 */
export const PIPELINE_PAUSE: number = 64 * 1024;

/**
 * How long a closing connection keeps reading (and dropping) its input after
 * the last bytes came, so that unread input does not turn our FIN into a
 * reset that destroys the response before the client reads it. Input that
 * keeps coming keeps it reading, up to {@link LINGER_MAX_MS} (nginx's
 * `lingering_timeout` and `lingering_time`): a proxy such as Apache sends a
 * whole upload before it reads the answer, and a 401 to a 5 MiB upload was
 * reset after 2 s and became Apache's 502.
 */
export const LINGER_MS: number = 2000;

/** The longest a closing connection reads and drops input (see {@link LINGER_MS}). */
export const LINGER_MAX_MS: number = 30_000;

/**
 * Parsers a server keeps for its connections' next requests. A connection
 * holds a parser only while it reads a request; between requests it gives
 * it back, and beyond this many spares the parser is left to the garbage
 * collector (each is ~200 bytes).
 */
export const SPARE_PARSERS: number = 128;

/** Fills in every default of `init` and freezes the result. */
export function resolveOptions(init: Pick<ServeOptions, "limits" | "timeouts" | "tls">): ServerOptions {
  const limits = { ...DEFAULTS.limits };
  for (const [k, v] of Object.entries(init.limits ?? {})) {
    if (v !== undefined) (limits as Record<string, unknown>)[k] = v;
  }
  const timeouts = { ...DEFAULTS.timeouts };
  for (const [k, v] of Object.entries(init.timeouts ?? {})) {
    if (v !== undefined) (timeouts as Record<string, unknown>)[k] = v;
  }
  const shortest = Math.min(timeouts.headers, timeouts.body, timeouts.keepAlive, timeouts.send, timeouts.handler);
  return Object.freeze({
    limits: Object.freeze(limits),
    timeouts: Object.freeze(timeouts),
    scheme: init.tls ? "https://" : "http://",
    bodyHighWater: Math.max(1, Math.min(BODY_HIGH_WATER, Math.floor(limits.connectionBytes / 2))),
    sweepMs: Math.max(10, Math.min(1000, Math.floor(shortest / 4))),
  });
}
