/**
 * An in-process adapter: a client and a server joined without sockets, for
 * fast deterministic tests. It models what the core relies on — ordered
 * delivery in arbitrary pieces, half-close, backpressure in both directions
 * — and nothing else. End-to-end tests still run over real sockets.
 *
 * @module
 */

import type { Conn, ConnHandler, Listener, ListenOptions, NetAddr, SocketAdapter } from "../src/adapter.ts";

const HIGH_WATER = 64 * 1024;

/** The client end of an in-memory connection. */
export class MemoryClient {
  /** Everything the server sent so far. */
  received: Uint8Array = new Uint8Array(0);
  /** True once the server ended or destroyed the connection. */
  ended = false;
  /** Settles when the connection is fully closed. */
  readonly closed: Promise<void>;
  #server: MemoryServerConn;
  #resolveClosed!: () => void;
  #waiters: (() => void)[] = [];
  #paused = false;
  #inbox: Uint8Array[] = [];
  #text = "";

  /** @internal */
  constructor(server: MemoryServerConn) {
    this.#server = server;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
  }

  /** Sends bytes (or a latin1 string) to the server. */
  write(data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? Uint8Array.from(data, (c) => c.charCodeAt(0)) : data.slice();
    this.#server.deliver(bytes);
  }

  /** Half-closes: the server sees end of input. */
  end(): void {
    this.#server.peerEnd();
  }

  /** Closes abruptly. */
  destroy(): void {
    this.#server.peerClose();
  }

  /** Stops taking bytes: the server's writes queue up and report backpressure. */
  pause(): void {
    this.#paused = true;
  }

  /** Takes bytes again. */
  resume(): void {
    this.#paused = false;
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const c of inbox) this.#append(c);
    this.#server.drained();
  }

  /** The bytes the server sent, as latin1 text. */
  text(): string {
    return this.#text;
  }

  /** Resolves once `pred(text())` holds or the connection ended. */
  async until(pred: (text: string) => boolean): Promise<string> {
    while (!pred(this.text()) && !this.ended) await new Promise<void>((r) => this.#waiters.push(r));
    return this.text();
  }

  /** @internal */
  accept(chunk: Uint8Array): boolean {
    if (this.#paused) {
      this.#inbox.push(chunk);
      let n = 0;
      for (const c of this.#inbox) n += c.byteLength;
      return n < HIGH_WATER;
    }
    this.#append(chunk);
    return true;
  }

  #append(chunk: Uint8Array): void {
    const r = new Uint8Array(this.received.length + chunk.length);
    r.set(this.received);
    r.set(chunk, this.received.length);
    this.received = r;
    for (let i = 0; i < chunk.length; i += 4096) {
      this.#text += String.fromCharCode.apply(null, chunk.subarray(i, i + 4096) as unknown as number[]);
    }
    this.#wake();
  }

  /** @internal */
  serverEnded(): void {
    this.ended = true;
    this.#wake();
  }

  /** @internal */
  serverClosed(): void {
    this.ended = true;
    this.#wake();
    this.#resolveClosed();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** The server end: a {@link Conn} that the core drives. */
class MemoryServerConn implements Conn {
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  handler!: ConnHandler;
  client!: MemoryClient;
  #paused = false;
  #held: Uint8Array[] = [];
  #ended = false;
  #peerEnded = false;
  #closed = false;
  #wantDrain = false;

  constructor(remote: NetAddr, local: NetAddr) {
    this.remoteAddr = remote;
    this.localAddr = local;
  }

  deliver(bytes: Uint8Array): void {
    queueMicrotask(() => {
      if (this.#closed || this.#peerEnded) return;
      if (this.#paused) this.#held.push(bytes);
      else this.handler.onData(bytes);
    });
  }

  peerEnd(): void {
    queueMicrotask(() => {
      if (this.#closed || this.#peerEnded) return;
      this.#peerEnded = true;
      if (this.#held.length === 0) this.#afterPeerEnd();
    });
  }

  #afterPeerEnd(): void {
    if (this.#ended) this.#close();
    else this.handler.onEnd();
  }

  peerClose(): void {
    queueMicrotask(() => this.#close());
  }

  drained(): void {
    if (this.#wantDrain && !this.#closed) {
      this.#wantDrain = false;
      this.handler.onDrain();
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ended) return true;
    const ok = this.client.accept(chunk);
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  end(): void {
    if (this.#ended || this.#closed) return;
    this.#ended = true;
    this.client.serverEnded();
    if (this.#peerEnded) queueMicrotask(() => this.#close());
  }

  destroy(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.serverClosed();
    this.handler.onClose();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    queueMicrotask(() => {
      while (this.#held.length > 0 && !this.#paused && !this.#closed) this.handler.onData(this.#held.shift()!);
      if (this.#peerEnded && this.#held.length === 0 && !this.#closed) this.#afterPeerEnd();
    });
  }

  ref(): void {}
  unref(): void {}
}

/** A {@link SocketAdapter} whose clients are made with `connect()`. */
export interface MemoryAdapter extends SocketAdapter {
  /** Opens a connection to the listener on `port` (the only one, by default). */
  connect(port?: number): MemoryClient;
}

/**
 * Creates an in-memory adapter.
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * import { memoryAdapter } from "portico/adapters/memory";
 * const adapter = memoryAdapter();
 * serve({ adapter, port: 0, onListen() {}, fetch: () => new Response("hi") });
 * const client = adapter.connect();
 * client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
 * await client.until((t) => t.endsWith("hi"));
 * ```
 */
export function memoryAdapter(): MemoryAdapter {
  const listeners = new Map<number, (conn: Conn) => ConnHandler>();
  let nextPort = 40000;
  let nextClientPort = 50000;
  return {
    name: "memory",
    listen(options: ListenOptions, onConnection: (conn: Conn) => ConnHandler): Promise<Listener> {
      if (options.path !== undefined) {
        return Promise.reject(new TypeError("the memory adapter has ports only, no unix sockets (`path`)"));
      }
      const port = options.port || nextPort++;
      if (listeners.has(port)) return Promise.reject(new Error(`memory port ${port} is in use`));
      listeners.set(port, onConnection);
      return Promise.resolve({
        addr: { transport: "tcp", hostname: options.hostname, port },
        close: () => {
          listeners.delete(port);
          return Promise.resolve();
        },
        ref() {},
        unref() {},
      });
    },
    connect(port?: number): MemoryClient {
      const target = port ?? [...listeners.keys()][0];
      const onConnection = listeners.get(target);
      if (!onConnection) throw new Error(`nothing listens on memory port ${target}`);
      const server = new MemoryServerConn(
        { transport: "tcp", hostname: "127.0.0.1", port: nextClientPort++ },
        { transport: "tcp", hostname: "127.0.0.1", port: target },
      );
      const client = new MemoryClient(server);
      server.client = client;
      server.handler = onConnection(server);
      return client;
    },
  };
}
