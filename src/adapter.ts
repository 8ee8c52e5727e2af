/**
 * The one seam between portico's portable core and a runtime's sockets.
 *
 * An adapter turns a runtime's listening socket into a stream of {@link Conn}
 * objects and pushes their bytes to a {@link ConnHandler}. Everything above this
 * interface — parsing, routing, groups — is runtime-free.
 *
 * The interface is push-based because Node and Bun push, and Deno's reads,
 * each issued from the last one's callback, can push too. It is small, but
 * an adapter is not: it owns what its runtime leaves to the caller — accept
 * errors, half-close, backpressure, unix sockets, TLS. Without comments, the
 * Node adapter is about 155 lines (its `net.Socket` queues and drains by
 * itself), Deno's about 350 (a chain of reads and an accept loop), Bun's
 * about 220; Deno and Bun share their send queue (`adapters/write_queue.ts`,
 * 85 lines), and all three hold a turn's writes to send them together
 * (`adapters/write_batch.ts`, 40 lines).
 *
 * @module
 */

/** A TCP address, as Deno reports it. */
export interface TcpAddr {
  /** `"tcp"`. */
  transport: "tcp";
  /** The IP address (or host name) of the endpoint. */
  hostname: string;
  /** The port of the endpoint. */
  port: number;
}

/** A unix socket address, as Deno reports it. */
export interface UnixAddr {
  /** `"unix"`. */
  transport: "unix";
  /** The socket's file; `""` for the client's end, which has none. */
  path: string;
}

/**
 * A network address, as Deno's built-in `serve` reports it: TCP, or a unix
 * socket for a server started with `path`. Check `transport` before reading
 * `port`.
 */
export type NetAddr = TcpAddr | UnixAddr;

/**
 * An address for logs and names: `127.0.0.1:8000`, `[::1]:8000`, or the
 * unix socket's file (`unix:/tmp/app.sock`, `unix:` for a client's end).
 *
 * @example
 * ```ts
 * import { formatAddr } from "./adapter.ts";
 * console.log(formatAddr({ transport: "tcp", hostname: "::1", port: 8000 })); // "[::1]:8000"
 * ```
 */
export function formatAddr(addr: NetAddr): string {
  if (addr.transport === "unix") return `unix:${addr.path}`;
  return `${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`;
}

/**
 * The error an adapter made for one runtime gives on another (the Bun
 * adapter under Deno found no `Bun.listen`, and said only "Cannot read
 * properties of undefined"). `serve()` reports it as the reason it cannot
 * listen.
 *
 * @example
 * ```ts
 * import { foreignRuntime } from "./adapter.ts";
 * console.log(foreignRuntime("Bun").message); // "the Bun adapter runs on Bun only: …"
 * ```
 */
export function foreignRuntime(runtime: "Deno" | "Bun"): TypeError {
  return new TypeError(
    `the ${runtime} adapter runs on ${runtime} only: leave \`adapter\` out, and serve() uses this runtime's`,
  );
}

/** What a listener is asked to do. */
export interface ListenOptions {
  /** Port to bind; 0 picks a free one. Ignored when `path` is set. */
  port: number;
  /** Address to bind. Ignored when `path` is set. */
  hostname: string;
  /**
   * A unix socket to listen on instead of `port` and `hostname`. The
   * socket file is removed when the listener closes. An adapter without
   * unix sockets rejects.
   */
  path?: string;
  /** Let several processes bind the same port (where the runtime supports it). */
  reusePort?: boolean;
  /** Length of the kernel's accept queue (where the runtime lets us set it). */
  backlog?: number;
  /** PEM certificate chain and private key: serve TLS instead of plain TCP. */
  tls?: { cert: string; key: string };
}

/** A listening socket. */
export interface Listener {
  /** The bound address; the real port when 0 was asked for. */
  readonly addr: NetAddr;
  /** Stops accepting. Connections already accepted are not touched. */
  close(): Promise<void>;
  /** Keeps the process alive while listening (the default). */
  ref(): void;
  /** Lets the process exit even though the listener is open. */
  unref(): void;
  /**
   * Stops accepting without closing, so new clients wait in the kernel's
   * backlog. Optional: runtimes that cannot (Node, Bun) leave it out.
   */
  pauseAccept?(): void;
  /** Accepts again after `pauseAccept()`. */
  resumeAccept?(): void;
}

/**
 * One accepted connection, as the core sees it.
 *
 * Every method may be called after the connection closed; it then does
 * nothing. `destroy()` and `end()` are idempotent.
 */
export interface Conn {
  /** The peer's address (the same value each time, not necessarily the same object). */
  readonly remoteAddr: NetAddr;
  /** Our side's address. */
  readonly localAddr: NetAddr;
  /**
   * Queues bytes for sending. The adapter may keep `chunk` until it is sent,
   * so the caller must not reuse it. `chunk` may be a view into a buffer
   * shared with other connections: send its bytes only (`byteOffset`,
   * `byteLength`), never its whole `.buffer`. Returns false when the queue is
   * above the high-water mark: wait for `onDrain` before writing more.
   *
   * The bytes go out by the end of the event loop's current turn, not
   * necessarily during the call: the adapters of this package hold the
   * writes of a turn and send them together once its events are handled
   * (`adapters/write_batch.ts`: each send that wakes a sleeping client
   * costs the server several microseconds of kernel time, paid once per
   * turn instead of once per response).
   */
  write(chunk: Uint8Array): boolean;
  /** Flushes what is queued, then half-closes (sends FIN) and closes. */
  end(): void;
  /**
   * Optional: hold writes until `uncork()`, so that several writes (a head
   * and a large body, the answers to pipelined requests) go out in one
   * system call. Calls nest: writes are held until every `cork()` has had
   * its `uncork()`. `end()` sends what is held.
   */
  cork?(): void;
  /** Undoes one `cork()`; the last one sends what was held. */
  uncork?(): void;
  /**
   * Closes now. What is held for the end of the turn is handed to the
   * socket first; anything the socket has not taken yet (on Deno, bytes
   * queued behind a write still in flight) is dropped.
   */
  destroy(): void;
  /** Stops delivering `onData` until `resume()`. */
  pause(): void;
  /** Delivers `onData` again after `pause()`. */
  resume(): void;
  /** Keeps the process alive while open (the default). */
  ref(): void;
  /** Lets the process exit even though this connection is open. */
  unref(): void;
}

/** The callbacks the core gives an adapter for each connection. */
export interface ConnHandler {
  /**
   * Bytes arrived. The chunk is valid only during the call: an adapter may
   * reuse its memory afterwards (Deno's read buffer), so the core copies
   * what it keeps.
   */
  onData(chunk: Uint8Array): void;
  /** The send queue fell below the high-water mark after `write` returned false. */
  onDrain(): void;
  /**
   * The peer finished sending (FIN). The connection stays writable; the core
   * decides when to close. Called at most once, before `onClose`.
   */
  onEnd(): void;
  /** The connection is gone (closed by either side or by an error). Called exactly once. */
  onClose(error?: Error): void;
}

/**
 * A transport: how to listen and accept on one runtime.
 *
 * @example A custom adapter is passed to serve()
 * ```ts
 * import { serve } from "portico";
 * import { memoryAdapter } from "portico/adapters/memory";
 * const adapter = memoryAdapter();
 * serve({ adapter, port: 0, fetch: () => new Response("hi") });
 * ```
 */
export interface SocketAdapter {
  /** A short name for logs: "node", "deno", "bun", "memory". */
  readonly name: string;
  /**
   * Binds and starts accepting. `onConnection` is called once per accepted
   * connection and returns the handler that receives its events.
   */
  listen(options: ListenOptions, onConnection: (conn: Conn) => ConnHandler): Promise<Listener>;
}
