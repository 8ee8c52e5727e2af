/**
 * The Deno adapter: `Deno.listen` (and `Deno.listenTls` for HTTPS).
 *
 * Deno pulls (`conn.read`) where the core wants pushes, so each connection
 * keeps one read in flight into its own buffer, the next one issued from the
 * previous one's callback (sized to what the connection's reads need: 128
 * bytes to 1 KiB for most clients, grown up to 64 KiB while reads fill it),
 * and a write queue that turns Deno's promise-per-write into
 * `write()`/`onDrain`.
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
import { giveBack, type Slab, SLOT_SIZES, takeSlot } from "./read_slabs.ts";
import { type HeldWrites, holdWrites } from "./write_batch.ts";
import { WriteQueue } from "./write_queue.ts";

// The part of the Deno namespace this adapter uses, declared here so that
// the file type-checks under tsc without Deno's global types.
interface DenoAddr {
  transport: string;
  hostname?: string;
  port?: number;
  path?: string | null;
}
interface DenoConn {
  readonly remoteAddr: DenoAddr;
  readonly localAddr: DenoAddr;
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
  ref(): void;
  unref(): void;
}
interface DenoListener {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConn>;
  close(): void;
  ref(): void;
  unref(): void;
}
interface DenoApi {
  listen(
    o: { port: number; hostname: string; transport: "tcp"; reusePort?: boolean } | { transport: "unix"; path: string },
  ): DenoListener;
  listenTls(o: { port: number; hostname: string; cert: string; key: string }): DenoListener;
}

const FIRST = 1024; // a new connection's first read: enough for a typical request head
const MIN = 128;
const LARGE = 64 * 1024;
const SHRINK_AFTER = 8;
const LARGEST_SLOT = SLOT_SIZES[SLOT_SIZES.length - 1];
const EMPTY: Uint8Array = new Uint8Array(0);

// The buffer size that holds a read of n bytes with room to spare (a read
// that fills its buffer may have left bytes behind): a power of two, at
// least MIN. Not 64: V8 keeps a typed array of up to 64 bytes inside its
// heap, and reading into one cost 1.09x the CPU per request (node
// bench/ab.mjs --runtime deno); 128 bytes measured 0.99x and 1.02x.
function fit(n: number): number {
  let size = MIN;
  while (size <= n) size *= 2;
  return size;
}
// Accept errors that concern the listener rather than one connection: out
// of descriptors (or kernel memory), every accept fails until some are freed.
const OUT_OF_DESCRIPTORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

function netAddr(a: DenoAddr): NetAddr {
  // A unix socket's client end has no name: Deno says null, portico "".
  if (a.transport === "unix") return { transport: "unix", path: a.path ?? "" };
  return { transport: "tcp", hostname: a.hostname ?? "", port: a.port ?? 0 };
}

class DenoConnection implements Conn, HeldWrites {
  get remoteAddr(): NetAddr {
    return netAddr(this.#conn.remoteAddr);
  }
  handler!: ConnHandler;
  #conn: DenoConn;
  #local: NetAddr | null = null; // built when asked: few ever read it
  #closed = false;
  #paused = false;
  // The read buffer: a connection's first is its own (most are replaced
  // after one read); later ones of up to 1 KiB are slots of shared slabs
  // (read_slabs.ts), given back once no read is in flight on them.
  #buf: Uint8Array = new Uint8Array(FIRST);
  #slab: Slab | null = null;
  #reading = false; // a read is in flight
  #inData = false; // onData runs with a view of #buf
  // Reads in a row that a smaller buffer would have held, and the largest
  // of them (see #resize). A new connection starts as if after such a run,
  // so that its first read already sizes the buffer.
  #smallReads = SHRINK_AFTER - 1;
  #peak = 0;
  #queue = new WriteQueue();
  #held = false; // corked until the end of the turn (write_batch.ts)
  #writing = false;
  #sent: Uint8Array | null = null; // the rest of a single-chunk write in flight (see #send)
  #sentBytes = 0; // its whole size, counted by the queue until it is sent
  #ending = false;
  #writeClosed = false;
  #readEnded = false;

  constructor(conn: DenoConn) {
    this.#conn = conn;
  }

  get localAddr(): NetAddr {
    return this.#local ??= netAddr(this.#conn.localAddr);
  }

  /** Starts reading (once the handler is attached). */
  start(): void {
    this.#read();
  }

  // One read at a time, into the connection's buffer. Not while paused,
  // and not while onData still looks at the buffer: Deno may complete a
  // read at the call (an eager poll), writing into the buffer at once.
  //
  // Never after the peer's FIN: the read would end again, and onEnd must come
  // at most once (a resume() after it, from end(), started one).
  #read(): void {
    if (this.#reading || this.#inData || this.#paused || this.#closed || this.#readEnded) return;
    this.#reading = true;
    this.#conn.read(this.#buf).then(this.#afterRead, this.#afterRead);
  }

  // The read and write callbacks, bound once per connection: bound methods
  // rather than arrow functions in fields, which kept a closure each and a
  // context between them (152 bytes per connection against 96; CPU per
  // request 0.998x, bench/ab.mjs --runtime deno).
  #afterRead: (n: unknown) => void = this.#onRead.bind(this);
  #afterSend: (n: unknown) => void = this.#onSent.bind(this);

  // A read finished: bytes, the peer's FIN (null) or an error. One callback
  // for every outcome, instead of an async read loop: its suspended
  // generator, promise and context cost each idle connection about 300
  // bytes.
  #onRead(n: unknown): void {
    this.#reading = false;
    if (this.#closed) return this.#dropBuffer();
    if (typeof n === "number") {
      const buf = this.#buf;
      this.#inData = true;
      try {
        this.handler.onData(buf.subarray(0, n));
      } catch (e) {
        this.#inData = false;
        this.#close(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.#inData = false;
      if (this.#closed) return this.#dropBuffer(); // closed by onData: kept until it returned
      this.#resize(n);
      this.#read();
      return;
    }
    if (n !== null) {
      this.#close(n instanceof Error ? n : new Error(String(n)));
      return;
    }
    this.#readEnded = true;
    if (this.#writeClosed) this.#close();
    else this.handler.onEnd();
  }

  // The buffer grows when a read fills it (to 1 KiB, then eightfold up to
  // 64 KiB), and shrinks to what the reads need, the next power of two above
  // the largest (at least MIN, 128 bytes), after SHRINK_AFTER reads in a row
  // that a smaller one would have held, or after the connection's first
  // read. Idle keep-alive connections keep that buffer while they wait: 1 KiB
  // for each of 10,000 connections was most of what portico on Deno kept
  // above node:http (RSS per idle connection 30 s after 10,000 opened, once
  // V8 has collected: 6.18-6.32 KiB with 1 KiB buffers, 5.78 with these;
  // node:http 5.06-5.12). A browser's request with cookies, which fills
  // 1 KiB, keeps a larger one; a request larger than the connection's last
  // few costs a read or two more (128 bytes, 1 KiB, 8 KiB).
  #resize(n: number): void {
    const size = this.#buf.length;
    if (n === size) {
      this.#smallReads = 0;
      this.#peak = 0;
      // A buffer made small by small reads goes back to FIRST before it
      // grows eightfold: from 512 bytes straight to 4 KiB, an 800-byte
      // request after 300-byte ones left 4 KiB with the idle connection.
      if (size < LARGE) this.#setBuffer(size < FIRST ? FIRST : Math.min(LARGE, size * 8));
      return;
    }
    // Nothing smaller would hold it (fit(n) >= size, without the loop).
    if (size <= MIN || n >= size >> 1) {
      this.#smallReads = 0;
      this.#peak = 0;
      return;
    }
    if (n > this.#peak) this.#peak = n;
    if (++this.#smallReads >= SHRINK_AFTER) {
      this.#setBuffer(fit(this.#peak));
      this.#smallReads = 0;
      this.#peak = 0;
    }
  }

  // Only between reads: never while one is in flight or onData runs.
  #setBuffer(size: number): void {
    this.#dropBuffer();
    if (size <= LARGEST_SLOT) {
      const slot = takeSlot(size);
      this.#buf = slot.view;
      this.#slab = slot.slab;
    } else this.#buf = new Uint8Array(size);
  }

  #dropBuffer(): void {
    if (this.#slab !== null) {
      giveBack(this.#slab, this.#buf);
      this.#slab = null;
    }
    this.#buf = EMPTY;
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return true;
    if (!this.#held && holdWrites(this)) {
      this.#held = true;
      this.#queue.cork();
    }
    const room = this.#queue.push(chunk);
    if (!this.#queue.corked && !this.#writing) this.#send(); // not held: at once
    return room;
  }

  releaseWrites(): void {
    if (!this.#held) return;
    this.#held = false;
    this.uncork();
  }

  // Sends what is queued. One chunk (the usual: a response, or a turn's
  // responses joined) goes out with one promise (Deno's own) and callbacks
  // bound once per connection, rather than through an async function:
  // about 1 µs less per response on Deno.
  #send(): void {
    const chunk = this.#queue.takeOne();
    if (chunk === null) {
      void this.#flush();
      return;
    }
    this.#writing = true;
    this.#sent = chunk;
    this.#sentBytes = chunk.byteLength;
    this.#conn.write(chunk).then(this.#afterSend, this.#afterSend);
  }

  // A single-chunk write (see #send) went out, maybe in part, or failed. One
  // callback for both outcomes: a callback is ~50 bytes per connection.
  #onSent(n: unknown): void {
    if (typeof n !== "number") return this.#sendFailed(n);
    const rest = this.#sent!;
    if (this.#closed) {
      this.#writing = false;
      this.#sent = null;
      return;
    }
    if (n < rest.byteLength) {
      this.#sent = rest.subarray(n);
      this.#conn.write(this.#sent).then(this.#afterSend, this.#afterSend);
      return;
    }
    this.#sent = null;
    this.#queue.written(this.#sentBytes);
    this.#writing = false;
    if (this.#queue.drained()) this.handler.onDrain();
    if (this.#writing || this.#closed) return; // onDrain wrote again (or closed)
    if (this.#queue.pending) {
      // Pushed while this write was in flight; if held, the release sends it.
      if (!this.#queue.corked) this.#send();
    } else if (this.#ending) void this.#finishEnd();
  }

  #sendFailed(e: unknown): void {
    this.#writing = false;
    this.#sent = null;
    this.#close(e instanceof Error ? e : new Error(String(e)));
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.pending && !this.#closed) {
        for (const chunk of this.#queue.take()) {
          let off = await this.#conn.write(chunk);
          while (off < chunk.byteLength) off += await this.#conn.write(chunk.subarray(off));
          this.#queue.written(chunk.byteLength);
        }
        if (this.#queue.drained()) this.handler.onDrain();
      }
    } catch (e) {
      this.#close(e instanceof Error ? e : new Error(String(e)));
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#ending && !this.#closed) void this.#finishEnd();
  }

  // Each write is an operation that resolves later: writes made while
  // corked go out joined, as one.
  cork(): void {
    this.#queue.cork();
  }

  uncork(): void {
    if (this.#queue.uncork() && !this.#writing && this.#queue.pending) this.#send();
  }

  async #finishEnd(): Promise<void> {
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    try {
      await this.#conn.closeWrite();
    } catch {
      // already gone
    }
    if (this.#readEnded) this.#close();
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#queue.uncorkAll();
    // Keep reading: the core discards what arrives, and we see the peer's FIN.
    this.resume();
    if (this.#writing) return;
    if (this.#queue.pending) void this.#flush(); // written while corked; ends when done
    else void this.#finishEnd();
  }

  destroy(): void {
    // What was written before goes to the socket first, as it would have
    // without the hold.
    this.releaseWrites();
    this.#close();
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    // A read in flight settles after the close (#onRead gives the buffer
    // back then); onData running still looks at it.
    if (!this.#reading && !this.#inData) this.#dropBuffer();
    this.handler.onClose(error);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#read();
  }

  ref(): void {
    if (!this.#closed) this.#conn.ref();
  }

  unref(): void {
    if (!this.#closed) this.#conn.unref();
  }
}

/**
 * The adapter for Deno (`Deno.listen` / `Deno.listenTls`).
 *
 * @example
 * ```ts
 * import { serve } from "jsr:@portico/portico";
 * import { denoAdapter } from "jsr:@portico/portico/adapters/deno";
 * serve({ adapter: denoAdapter, port: 8000, fetch: () => new Response("hi") });
 * ```
 */
export const denoAdapter: SocketAdapter = {
  name: "deno",
  listen(options: ListenOptions, onConnection: (conn: Conn) => ConnHandler): Promise<Listener> {
    const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
    // The function this adapter needs, or another runtime (an adapter passed by hand).
    const present: unknown = (Deno as DenoApi | undefined)?.listen;
    if (typeof present !== "function") return Promise.reject(foreignRuntime("Deno"));
    if (options.path !== undefined && options.tls) {
      return Promise.reject(
        new TypeError("the Deno adapter cannot serve TLS on a unix socket (Deno.listenTls is TCP only)"),
      );
    }
    // Deno removes a unix socket's file when the listener closes.
    const listener = options.path !== undefined
      ? Deno.listen({ transport: "unix", path: options.path })
      : options.tls
      ? Deno.listenTls({ port: options.port, hostname: options.hostname, cert: options.tls.cert, key: options.tls.key })
      : Deno.listen({ port: options.port, hostname: options.hostname, transport: "tcp", reusePort: options.reusePort });
    let closed = false;
    let gate: Promise<void> | null = null;
    let openGate: (() => void) | null = null;
    const loop = (async () => {
      let backoff = 10;
      while (!closed) {
        if (gate) await gate;
        if (closed) return;
        let raw: DenoConn;
        try {
          raw = await listener.accept();
        } catch (e) {
          if (closed) return;
          if (!OUT_OF_DESCRIPTORS.has((e as { code?: string }).code ?? "")) {
            // One connection failed (reset while it waited in the backlog:
            // ENOTCONN, ECONNABORTED): the client's doing, and the next
            // connection in the queue is fine. A back-off here stalled the
            // server for over a minute after 100 resets.
            continue;
          }
          // Out of descriptors: wait, doubling the wait, so that a
          // persistent failure neither spins nor floods the log.
          if (backoff === 10) console.error("portico: accept error:", (e as Error).message ?? e);
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 1000);
          continue;
        }
        backoff = 10;
        if (closed) {
          // Accepted just as the listener closed: not ours to serve any more.
          try {
            raw.close();
          } catch {
            // already closed
          }
          return;
        }
        try {
          raw.setNoDelay?.(true);
        } catch {
          // TLS connections may not support it before the handshake
        }
        const c = new DenoConnection(raw);
        c.handler = onConnection(c);
        c.start();
      }
    })();
    return Promise.resolve({
      addr: netAddr(listener.addr),
      close: () => {
        if (!closed) {
          closed = true;
          openGate?.();
          try {
            listener.close();
          } catch {
            // already closed
          }
        }
        // The socket is released once the pending accept has failed; until
        // then the kernel would still take connections into the backlog.
        return loop;
      },
      ref: () => listener.ref(),
      unref: () => listener.unref(),
      // Not calling accept() leaves new clients in the kernel's backlog.
      // One accept may already be pending; that client is parked by the core.
      pauseAccept: () => {
        gate ??= new Promise((r) => (openGate = r));
      },
      resumeAccept: () => {
        const o = openGate;
        gate = openGate = null;
        o?.();
      },
    });
  },
};
