/**
 * The Node adapter: `node:net` (and `node:tls` for HTTPS).
 *
 * @module
 */

import cluster from "node:cluster";
import net from "node:net";
import process from "node:process";
import tls from "node:tls";
import type { Conn, ConnHandler, Listener, ListenOptions, NetAddr, SocketAdapter } from "../src/adapter.ts";
import { joinShared } from "../src/http/bytes.ts";
import { type HeldWrites, holdWrites } from "./write_batch.ts";

function addr(hostname: string | undefined, port: number | undefined): NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}

// A unix socket's client end has no name; our end is the socket's file.
const UNIX_PEER: NetAddr = { transport: "unix", path: "" };

class NodeConn implements Conn, HeldWrites {
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  #socket: net.Socket;
  // Writes are held until the end of the turn (write_batch.ts). Small ones
  // are kept here, not in the corked socket: a corked net.Socket queues
  // each write as an object and sends it through Writable's clearBuffer,
  // which took more of the server's CPU under load (perf: 2.4%, the most of
  // any JavaScript function) than the parser's head states; one plain
  // write per turn costs what the raw node:net loop's does. Past the
  // socket's high-water mark the socket holds them, corked, as it can say
  // when to wait for "drain".
  #registered = false; // holdWrites will call releaseWrites
  #held: Uint8Array | null = null; // the first chunk kept this turn
  #more: Uint8Array[] | null = null; // all of them, once there are two
  #heldBytes = 0;
  #corked = false; // the socket holds this turn's writes

  constructor(socket: net.Socket, unix: NetAddr | null) {
    this.#socket = socket;
    this.remoteAddr = unix ? UNIX_PEER : addr(socket.remoteAddress, socket.remotePort);
    this.localAddr = unix ?? addr(socket.localAddress, socket.localPort);
  }

  write(chunk: Uint8Array): boolean {
    const s = this.#socket;
    if (s.destroyed) return true;
    if (!this.#registered) {
      // False only while the socket still holds more than its high-water
      // mark: net.Socket says false for any write above the mark, even one
      // the kernel took at once (its "drain" then comes a tick later with
      // nothing left, and an onDrain with nobody waiting does nothing).
      if (!holdWrites(this)) return s.write(chunk) || s.writableLength < s.writableHighWaterMark;
      this.#registered = true;
    }
    if (this.#corked) return s.write(chunk);
    const bytes = this.#heldBytes + chunk.byteLength;
    if (bytes + s.writableLength < s.writableHighWaterMark) {
      if (this.#held === null) this.#held = chunk;
      else if (this.#more === null) this.#more = [this.#held, chunk];
      else this.#more.push(chunk);
      this.#heldBytes = bytes;
      return true;
    }
    s.cork();
    this.#corked = true;
    if (this.#held !== null) this.#send();
    return s.write(chunk);
  }

  // Hands what is kept to the socket: one write, several pieces joined
  // first (the answers to pipelined requests; less than the high-water
  // mark in all).
  #send(): void {
    const one = this.#held!;
    const more = this.#more;
    this.#held = this.#more = null;
    this.#heldBytes = 0;
    const s = this.#socket;
    if (s.destroyed) return;
    if (more === null) {
      s.write(one);
      return;
    }
    s.write(joinShared(more));
  }

  releaseWrites(): void {
    this.#registered = false;
    if (this.#held !== null) this.#send();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
  }

  end(): void {
    this.releaseWrites();
    if (!this.#socket.destroyed) this.#socket.end();
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  destroy(): void {
    // What was written before goes to the kernel first, as it would have
    // without the hold.
    this.releaseWrites();
    this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }
}

function attach(socket: net.Socket, onConnection: (conn: Conn) => ConnHandler, unix: NetAddr | null): void {
  if (unix === null) socket.setNoDelay(true);
  const conn = new NodeConn(socket, unix);
  const h = onConnection(conn);
  let error: Error | undefined;
  socket.on("data", (chunk: Uint8Array) => h.onData(chunk));
  socket.on("drain", () => h.onDrain());
  // Once end() is called, Node's Writable no longer emits "drain": a closing
  // connection that waited for one (to start its linger) heard nothing until
  // its send deadline. "finish" says the same: everything was handed over.
  socket.on("finish", () => {
    if (socket.writableNeedDrain) h.onDrain();
  });
  socket.on("end", () => h.onEnd());
  socket.on("error", (e) => (error = e));
  socket.on("close", () => h.onClose(error));
  // With allowHalfOpen, a socket we ended closes only once the peer ends
  // too; `end` above lets the core decide.
}

/**
 * The adapter for Node (`node:net` / `node:tls`).
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * import { nodeAdapter } from "portico/adapters/node";
 * serve({ adapter: nodeAdapter, port: 8000, fetch: () => new Response("hi") });
 * ```
 */
export const nodeAdapter: SocketAdapter = { name: "node", listen };

function listen(options: ListenOptions, onConnection: (conn: Conn) => ConnHandler): Promise<Listener> {
  const unix: NetAddr | null = options.path !== undefined ? { transport: "unix", path: options.path } : null;
  const server: net.Server = options.tls
    ? tls.createServer(
      { cert: options.tls.cert, key: options.tls.key, allowHalfOpen: true },
      (s) => attach(s, onConnection, unix),
    )
    : net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => attach(s, onConnection, unix));
  if (options.tls) {
    // A failed handshake is the client's problem, not the server's.
    server.on("tlsClientError", (_e, socket) => socket.destroy());
  }
  return new Promise((resolve, reject) => {
    const onListenError = (e: Error) => reject(e);
    server.once("error", onListenError);
    // A unix socket's file is removed by close().
    const listenOptions: net.ListenOptions & { reusePort?: boolean } = unix
      ? { path: options.path, backlog: options.backlog }
      : { port: options.port, host: options.hostname, backlog: options.backlog };
    // Node takes reusePort from 22.12 and 23.1; before, it ignored it, and
    // a second process on the port failed with EADDRINUSE. A cluster worker
    // shares the primary's socket and is not given it: from 22.12 a worker
    // asked for reusePort binds a socket of its own, so that `port: 0` gave
    // each worker another port, and node:cluster's round-robin gave way to
    // the kernel's spreading.
    if (options.reusePort && !cluster.isWorker) {
      if (!nodeReusesPorts()) {
        return reject(
          Object.assign(new Error(`reusePort needs Node 22.12 or later (this is ${process.version})`), {
            code: "ENOTSUP",
          }),
        );
      }
      listenOptions.reusePort = true;
    }
    server.listen(listenOptions, () => {
      server.off("error", onListenError);
      // Accept errors (EMFILE and the like) are reported, never fatal;
      // libuv sheds the pending connection and keeps listening. The log is
      // rate-limited: out of descriptors, every accept fails.
      let lastLog = 0;
      let suppressed = 0;
      server.on("error", (e) => {
        const now = Date.now();
        if (now - lastLog < 1000) {
          suppressed++;
          return;
        }
        console.error(`portico: accept error${suppressed ? ` (and ${suppressed} more)` : ""}:`, e.message);
        lastLog = now;
        suppressed = 0;
      });
      const a = server.address() as net.AddressInfo;
      resolve({
        addr: unix ?? addr(a.address, a.port),
        // close() stops listening at once; its callback would wait for every
        // connection to end, which is the core's business, not the listener's.
        close: () => {
          if (server.listening) server.close();
          return Promise.resolve();
        },
        ref: () => void server.ref(),
        unref: () => void server.unref(),
      });
    });
  });
}

/** Whether this Node listens with SO_REUSEPORT when asked (22.12+, 23.1+). */
function nodeReusesPorts(): boolean {
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
