/**
 * The Bun adapter: `Bun.listen` (with `tls` for HTTPS).
 *
 * Bun's `socket.write` writes what the kernel takes and returns the count;
 * the rest is queued here and flushed on `drain`.
 *
 * @module
 */

import type { Conn, ConnHandler, Listener, ListenOptions, NetAddr, SocketAdapter } from "../src/adapter.ts";

// The part of the Bun API this adapter uses, declared here so that the file
// type-checks without bun-types.
interface BunSocket {
  data: BunConnection;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort: number;
  write(data: Uint8Array): number;
  end(): void;
  pause(): void;
  resume(): void;
  ref(): void;
  unref(): void;
  setNoDelay?(noDelay?: boolean): boolean;
}
interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
  ref(): void;
  unref(): void;
}
interface BunApi {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    reusePort?: boolean;
    tls?: { cert: string; key: string };
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, chunk: Uint8Array): void;
      drain(s: BunSocket): void;
      end(s: BunSocket): void;
      close(s: BunSocket, error?: Error): void;
      error(s: BunSocket, error: Error): void;
    };
  }): BunListener;
}

const HIGH_WATER = 64 * 1024;

class BunConnection implements Conn {
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  handler!: ConnHandler;
  error: Error | undefined;
  #s: BunSocket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #wantDrain = false;
  #ending = false;
  #closed = false;

  constructor(s: BunSocket) {
    this.#s = s;
    this.remoteAddr = { transport: "tcp", hostname: s.remoteAddress, port: s.remotePort ?? 0 };
    this.localAddr = { transport: "tcp", hostname: s.localAddress ?? "", port: s.localPort };
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return true;
    if (this.#queue.length === 0) {
      const n = this.#s.write(chunk);
      if (n >= chunk.byteLength || n < 0) return true;
      chunk = chunk.subarray(n);
    }
    this.#queue.push(chunk);
    this.#queued += chunk.byteLength;
    if (this.#queued >= HIGH_WATER) {
      this.#wantDrain = true;
      return false;
    }
    return true;
  }

  flush(): void {
    const q = this.#queue;
    while (q.length > 0) {
      const c = q[0];
      const n = this.#s.write(c);
      if (n < 0) {
        q.length = 0;
        this.#queued = 0;
        break;
      }
      this.#queued -= n;
      if (n < c.byteLength) {
        q[0] = c.subarray(n);
        return;
      }
      q.shift();
    }
    if (this.#ending) this.#s.end();
    if (this.#wantDrain) {
      this.#wantDrain = false;
      this.handler.onDrain();
    }
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.resume();
    if (this.#queue.length === 0) this.#s.end();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#queue.length = 0;
    this.#s.end();
    this.closed();
  }

  closed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.handler.onClose(error ?? this.error);
  }

  pause(): void {
    if (!this.#closed) this.#s.pause();
  }

  resume(): void {
    if (!this.#closed) this.#s.resume();
  }

  ref(): void {
    if (!this.#closed) this.#s.ref();
  }

  unref(): void {
    if (!this.#closed) this.#s.unref();
  }
}

/**
 * The adapter for Bun (`Bun.listen`).
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * import { bunAdapter } from "portico/adapters/bun";
 * serve({ adapter: bunAdapter, port: 8000, fetch: () => new Response("hi") });
 * ```
 */
export const bunAdapter: SocketAdapter = {
  name: "bun",
  listen(options: ListenOptions, onConnection: (conn: Conn) => ConnHandler): Promise<Listener> {
    const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;
    const listener = Bun.listen({
      hostname: options.hostname,
      port: options.port,
      allowHalfOpen: true,
      reusePort: options.reusePort ?? false,
      tls: options.tls ? { cert: options.tls.cert, key: options.tls.key } : undefined,
      socket: {
        open(s) {
          s.setNoDelay?.(true);
          const c = new BunConnection(s);
          s.data = c;
          c.handler = onConnection(c);
        },
        data(s, chunk) {
          s.data.handler.onData(chunk);
        },
        drain(s) {
          s.data.flush();
        },
        end(s) {
          s.data.handler.onEnd();
        },
        close(s, error) {
          s.data?.closed(error);
        },
        error(s, error) {
          if (s.data) s.data.error = error;
        },
      },
    });
    let closed = false;
    return Promise.resolve({
      addr: { transport: "tcp", hostname: listener.hostname, port: listener.port },
      close: () => {
        if (!closed) {
          closed = true;
          listener.stop(false);
        }
        return Promise.resolve();
      },
      ref: () => listener.ref(),
      unref: () => listener.unref(),
    });
  },
};
