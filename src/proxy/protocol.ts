/**
 * `serve({ proxyProtocol: true })`: every connection must start with a
 * PROXY protocol header (v1 or v2). A wrapper around the server's accept:
 * it holds the connection until the header is complete, then hands the
 * server a connection whose `remoteAddr` (and `localAddr`) are the ones the
 * header names, with the bytes after the header.
 *
 * What a client without a valid header gets: a 400 naming the problem and a
 * closed connection; one that sends no complete header within
 * {@link PROXY_HEADER_MS} is closed. A connection still waiting for its
 * header is closed when the server's group shuts down.
 *
 * @module
 */

import type { Conn, ConnHandler, NetAddr } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";
import { clearTimeout, setTimeout } from "node:timers";
import { httpDate } from "../http/response.ts";
import { parseProxyHeader } from "./header.ts";

/** How long a connection may take to send its PROXY header, in ms. A load balancer sends it at once. */
export const PROXY_HEADER_MS = 3000;

const encoder = new TextEncoder();

/**
 * Wraps `accept` so that each connection is handed over only once its PROXY
 * header has been read, with the addresses it carries.
 *
 * @example
 * ```ts
 * import { ResourceGroup } from "portico";
 * import { proxyProtocol } from "./protocol.ts";
 * const accept = proxyProtocol((conn) => ({ onData() {}, onDrain() {}, onEnd() {}, onClose() {} }), new ResourceGroup());
 * ```
 */
export function proxyProtocol(
  accept: (conn: Conn) => ConnHandler,
  group: ResourceGroup,
  timeoutMs: number = PROXY_HEADER_MS,
): (conn: Conn) => ConnHandler {
  return (conn) => new AwaitingHeader(conn, accept, group, timeoutMs);
}

class AwaitingHeader implements ConnHandler {
  #conn: Conn;
  #accept: (conn: Conn) => ConnHandler;
  #inner: ConnHandler | null = null;
  #held: Uint8Array | null = null;
  #failed = false;
  #timer: ReturnType<typeof setTimeout> | null;
  #unregister: (() => Promise<void>) | null;

  constructor(conn: Conn, accept: (conn: Conn) => ConnHandler, group: ResourceGroup, timeoutMs: number) {
    this.#conn = conn;
    this.#accept = accept;
    this.#timer = setTimeout(() => conn.destroy(), timeoutMs);
    // Until it is handed over (or gone), the server's group closes it at shutdown.
    this.#unregister = group.defer(() => {
      if (this.#inner === null) conn.destroy();
    });
  }

  onData(chunk: Uint8Array): void {
    if (this.#inner) return this.#inner.onData(chunk);
    if (this.#failed) return;
    let bytes: Uint8Array;
    if (this.#held === null) bytes = chunk;
    else {
      bytes = new Uint8Array(this.#held.length + chunk.length);
      bytes.set(this.#held);
      bytes.set(chunk, this.#held.length);
    }
    const found = parseProxyHeader(bytes);
    if (found.kind === "more") {
      this.#held = bytes === chunk ? new Uint8Array(chunk) : bytes; // the chunk is only valid during the call
      return;
    }
    this.#held = null;
    if (found.kind === "invalid") {
      // The deadline timer stays armed: it destroys a connection whose
      // client does not read the 400.
      this.#failed = true;
      const body = `Bad Request: ${found.reason}\n`;
      this.#conn.write(encoder.encode(
        `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
          `date: ${httpDate()}\r\nconnection: close\r\n\r\n${body}`,
      ));
      this.#conn.end();
      return;
    }
    const conn = found.source ? withAddresses(this.#conn, found.source, found.destination) : this.#conn;
    this.#inner = this.#accept(conn);
    this.#settle();
    if (found.length < bytes.length) this.#inner.onData(bytes.subarray(found.length));
  }

  onDrain(): void {
    this.#inner?.onDrain();
  }

  onEnd(): void {
    if (this.#inner) return this.#inner.onEnd();
    if (!this.#failed) this.#conn.destroy(); // closed before a complete header
  }

  onClose(error?: Error): void {
    const inner = this.#inner;
    if (inner === null) this.#inner = CLOSED; // the finaliser must not touch it any more
    this.#settle();
    inner?.onClose(error);
  }

  // The deadline and the shutdown finaliser are no longer needed.
  #settle(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const unregister = this.#unregister;
    this.#unregister = null;
    void unregister?.(); // runs the finaliser now: #inner is set, so it does nothing
  }
}

const CLOSED: ConnHandler = { onData() {}, onDrain() {}, onEnd() {}, onClose() {} };

// The connection with the header's addresses. A Proxy rather than a copy of
// the methods, so that whatever an adapter's Conn offers keeps working;
// methods are bound once each.
function withAddresses(conn: Conn, remote: NetAddr, local: NetAddr | undefined): Conn {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(conn, {
    get(target, key) {
      if (key === "remoteAddr") return remote;
      if (key === "localAddr" && local) return local;
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      let fn = bound.get(key);
      if (fn === undefined) bound.set(key, fn = value.bind(target));
      return fn;
    },
  });
}
