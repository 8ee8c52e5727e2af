/**
 * The Bun adapter: `Bun.listen` (with `tls` for HTTPS).
 *
 * Bun's `socket.write` writes what the kernel takes and returns the count;
 * the rest is queued here and flushed on `drain`.
 *
 * @module
 */

import {
  type Conn,
  type ConnHandler,
  foreignRuntime,
  type Listener,
  type ListenOptions,
  type NetAddr,
  type SocketAdapter,
} from "../src/adapter.ts";
import { preferOwnBuffers } from "../src/http/bytes.ts";
import { type HeldWrites, holdWrites } from "./write_batch.ts";
import { WriteQueue } from "./write_queue.ts";

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
  shutdown(halfClose?: boolean): void;
  pause(): void;
  resume(): void;
  ref(): void;
  unref(): void;
  setNoDelay?(noDelay?: boolean): boolean;
}
interface BunListener {
  readonly port: number;
  readonly hostname: string;
  /** Fills `out` with the bound address (Bun 1.1+). */
  getsockname?(out: { address?: string; port?: number }): void;
  readonly unix?: string;
  stop(closeActiveConnections?: boolean): void;
  ref(): void;
  unref(): void;
}
interface BunApi {
  listen(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    allowHalfOpen?: boolean;
    reusePort?: boolean;
    tls?: { cert: string; key: string };
    socket: {
      binaryType?: "buffer" | "uint8array" | "arraybuffer";
      open(s: BunSocket): void;
      data(s: BunSocket, chunk: Uint8Array): void;
      drain(s: BunSocket): void;
      end(s: BunSocket): void;
      close(s: BunSocket, error?: Error): void;
      error(s: BunSocket, error: Error): void;
    };
  }): BunListener;
}

class BunConnection implements Conn, HeldWrites {
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  handler!: ConnHandler;
  error: Error | undefined;
  #s: BunSocket;
  #queue = new WriteQueue();
  #held = false; // corked until the end of the turn (write_batch.ts)
  #ending = false;
  #closed = false;
  #shut = false;
  #peerEnded = false;

  constructor(s: BunSocket, unix: NetAddr | null) {
    this.#s = s;
    if (unix) {
      // A unix socket's client end has no name; our end is the socket's file.
      this.remoteAddr = { transport: "unix", path: "" };
      this.localAddr = unix;
    } else {
      this.remoteAddr = { transport: "tcp", hostname: s.remoteAddress, port: s.remotePort ?? 0 };
      this.localAddr = { transport: "tcp", hostname: s.localAddress ?? "", port: s.localPort };
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return true;
    if (!this.#held && holdWrites(this)) {
      this.#held = true;
      this.#queue.cork();
    }
    // Held, corked, or behind what waits for Bun's drain.
    if (this.#queue.corked || this.#queue.pending) return this.#queue.push(chunk);
    const n = this.#s.write(chunk);
    if (n >= chunk.byteLength) return true;
    if (n < 0) {
      this.#writeFailed();
      return true;
    }
    return this.#queue.push(chunk.subarray(n));
  }

  releaseWrites(): void {
    if (!this.#held) return;
    this.#held = false;
    this.uncork();
  }

  // Small writes held while corked go out joined, in one system call.
  cork(): void {
    this.#queue.cork();
  }

  uncork(): void {
    if (this.#queue.uncork()) this.flush();
  }

  /** Writes what is queued (on Bun's drain, and when uncorked). */
  flush(): void {
    if (this.#closed || !this.#send()) return;
    if (this.#ending) this.#halfClose();
    if (this.#queue.drained()) this.handler.onDrain();
  }

  // Writes the queue in order; false when the kernel took only part of it
  // (the rest waits for Bun's drain) or the write failed.
  #send(): boolean {
    while (this.#queue.pending) {
      // The usual case is one chunk, taken without an array around it.
      const one = this.#queue.takeOne();
      const batch = one === null ? this.#queue.take() : null;
      const count = batch === null ? 1 : batch.length;
      for (let i = 0; i < count; i++) {
        const c = batch === null ? one! : batch[i];
        const n = this.#s.write(c);
        if (n < 0) {
          this.#writeFailed();
          return false;
        }
        this.#queue.written(n);
        if (n < c.byteLength) {
          const rest = c.subarray(n);
          this.#queue.putBack(batch === null ? [rest] : [rest, ...batch.slice(i + 1)]);
          return false;
        }
      }
    }
    return true;
  }

  // Bun's `end()` closes the socket outright once its buffer is sent; bytes
  // the peer is still sending then draw a reset, which can destroy the
  // response in the peer's receive queue. `shutdown()` sends FIN and keeps
  // reading; the socket is closed once the peer has finished too.
  #halfClose(): void {
    if (this.#shut || this.#closed) return;
    this.#shut = true;
    if (this.#peerEnded) this.#s.end();
    else this.#s.shutdown();
  }

  /** The peer sent FIN. */
  peerEnded(): void {
    this.#peerEnded = true;
    if (this.#shut) this.#s.end();
    else this.handler.onEnd();
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#queue.uncorkAll();
    this.#ending = true;
    this.resume();
    // FIN once everything is sent: now, or on Bun's drain.
    if (this.#send()) this.#halfClose();
  }

  destroy(): void {
    if (this.#closed) return;
    // What was written before goes to the socket first, as it would have
    // without the hold; what the kernel does not take is dropped. Not
    // through flush(): a drain it reports would call the handler back from
    // inside destroy().
    this.#held = false;
    this.#queue.uncorkAll();
    this.#send();
    this.#queue.clear();
    this.#s.end();
    this.closed();
  }

  // Bun's write returns -1 once the socket is closed (a reset by the peer,
  // say), often before its close callback runs. Counted as written, a
  // pull-based body was pulled to its end in a tight loop, with nobody else
  // served. The connection is closed instead: nothing more is written, and
  // the core hears of it before it asks the body for another chunk (the
  // next microtask), not from inside its own write call.
  #writeFailed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#s.end();
    const error = this.error ?? Object.assign(new Error("write failed: the connection is closed"), { code: "EPIPE" });
    queueMicrotask(() => this.handler.onClose(error));
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

// The address the listener is bound to: `hostname` is the name it was given
// ("localhost"), where Node and Deno report the address it resolved to.
function boundAddress(listener: BunListener): string {
  const out: { address?: string } = {};
  try {
    listener.getsockname?.(out);
  } catch {
    // an older Bun: the name given
  }
  return out.address ?? listener.hostname;
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
    // The function this adapter needs, or another runtime (an adapter passed by hand).
    const present: unknown = (Bun as BunApi | undefined)?.listen;
    if (typeof present !== "function") return Promise.reject(foreignRuntime("Bun"));
    // Small response buffers of their own cost less than slab views on Bun (src/http/bytes.ts).
    preferOwnBuffers();
    const unix: NetAddr | null = options.path !== undefined ? { transport: "unix", path: options.path } : null;
    // Bun removes a unix socket's file when the listener stops.
    const listener = Bun.listen({
      ...(unix ? { unix: options.path } : { hostname: options.hostname, port: options.port }),
      allowHalfOpen: true,
      reusePort: options.reusePort ?? false,
      tls: options.tls ? { cert: options.tls.cert, key: options.tls.key } : undefined,
      socket: {
        // Plain Uint8Arrays, as Deno's reads: a Buffer's subarray() looks up
        // its species constructor, and the core cuts pipelined requests and
        // body chunks out of what it receives.
        binaryType: "uint8array",
        open(s) {
          if (!unix) s.setNoDelay?.(true);
          const c = new BunConnection(s, unix);
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
          s.data.peerEnded();
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
      addr: unix ?? { transport: "tcp", hostname: boundAddress(listener), port: listener.port },
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
