/**
 * The server side of a WebSocket connection, behind the WHATWG `WebSocket`
 * interface: what `upgradeWebSocket()` returns as `socket`.
 *
 * @module
 */

import type { Conn } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";
import type { DeflateCodec } from "./deflate.ts";
import { CloseEvent, setTarget, SocketEvent, SocketMessageEvent, WebSocketErrorEvent } from "./events.ts";
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_NO_STATUS,
  closePayload,
  copyBytes,
  encodeFrame,
  encodeTextFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./frame.ts";
import { Receiver, type ReceiverSink } from "./receiver.ts";

/** How a socket receives binary messages: as `Blob` (the WHATWG default) or `ArrayBuffer`. */
export type BinaryType = "blob" | "arraybuffer";

/** What `send()` takes. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** Internal settings of one socket. */
export interface SocketSettings {
  /** The request URL, with its scheme turned into ws: or wss:. */
  url: string;
  /** The selected subprotocol, or "". */
  protocol: string;
  /** The agreed extensions, or "". */
  extensions: string;
  /** Largest message accepted, in bytes after decompression. */
  maxPayload: number;
  /** Seconds without input before a ping; 0 disables. */
  idleTimeout: number;
  /** Makes the permessage-deflate codec, when agreed. */
  codec: (() => DeflateCodec) | undefined;
}

/** What the server keeps of an upgraded connection (the contract of src/server/upgrade.ts). */
export interface AttachedSocket {
  /** Bytes arrived. */
  onData(chunk: Uint8Array): void;
  /** The send queue drained. */
  onDrain(): void;
  /** The peer half-closed. */
  onEnd(): void;
  /** The connection is gone. */
  onClose(error?: Error): void;
  /** Graceful shutdown: close 1001. */
  closeGracefully(): void;
}

/** Messages at least this large are compressed when permessage-deflate is on; smaller ones gain little. */
const DEFLATE_THRESHOLD = 1024;
/** How long to wait for the peer's close frame (or for the close to flush) before dropping the connection. */
const CLOSE_TIMEOUT = 5000;

const encoder = new TextEncoder();

/** A queued outgoing item: a ready frame, or one still being made (compressed, or read from a Blob). */
interface Outgoing {
  frame: Uint8Array | null;
  make: (() => Promise<Uint8Array>) | null;
  /** Application bytes it carries (counted in bufferedAmount). */
  size: number;
  /** Runs after the frame was handed to the connection. */
  after?: () => void;
}

interface Listener {
  fn: EventListenerOrEventListenerObject;
  capture: boolean;
  once: boolean;
  removed: boolean;
}

/** An `on…` event handler property of a {@link ServerWebSocket}, or null. */
export type WebSocketEventHandler<E extends Event> = ((this: ServerWebSocket, ev: E) => unknown) | null;

// Set by ServerWebSocket's static block: the module's way into its private methods.
let attach: (ws: ServerWebSocket, conn: Conn, rest: Uint8Array, group: ResourceGroup) => AttachedSocket;
let refuse: (ws: ServerWebSocket, message: string) => void;

/** Takes over a connection after the 101 was written (for `upgradeWebSocket()`; not public). */
export function attachSocket(ws: ServerWebSocket, conn: Conn, rest: Uint8Array, group: ResourceGroup): AttachedSocket {
  return attach(ws, conn, rest, group);
}

/** Marks a socket whose handshake was refused: error and close follow asynchronously (not public). */
export function refuseSocket(ws: ServerWebSocket, message: string): void {
  refuse(ws, message);
}

/**
 * A server-side WebSocket with the WHATWG interface: `readyState`,
 * `binaryType`, `bufferedAmount`, `protocol`, `extensions`, `url`, `send`,
 * `close`, `on*` handlers and `addEventListener`.
 *
 * A listener that throws (or returns a promise that rejects) is reported
 * with `console.error`; it never crashes the process or the socket.
 *
 * @example
 * ```ts
 * import { serve, upgradeWebSocket } from "portico";
 * serve({ fetch(req) {
 *   const { socket, response } = upgradeWebSocket(req);
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * } });
 * ```
 */
export class ServerWebSocket extends EventTarget {
  /** The connection is not yet open. */
  static readonly CONNECTING = 0;
  /** Open: messages flow. */
  static readonly OPEN = 1;
  /** The closing handshake is under way. */
  static readonly CLOSING = 2;
  /** Closed. */
  static readonly CLOSED = 3;
  /** The connection is not yet open. */
  readonly CONNECTING = 0;
  /** Open: messages flow. */
  readonly OPEN = 1;
  /** The closing handshake is under way. */
  readonly CLOSING = 2;
  /** Closed. */
  readonly CLOSED = 3;

  #settings: SocketSettings;
  #state = 0;
  #binaryType: BinaryType = "blob";
  #conn: Conn | null = null;
  #receiver: Receiver | null = null;
  #codec: DeflateCodec | null = null;
  #listeners = new Map<string, Listener[]>();
  #handlers = new Map<string, WebSocketEventHandler<Event>>();

  #queue: Outgoing[] = [];
  #queueHead = 0;
  #buffered = 0;
  #blocked = false;
  #making = false;

  #sentClose = false;
  #closeTimer: ReturnType<typeof setTimeout> | null = null;
  #progress = false;
  #received: { code: number; reason: string } | null = null;
  #failure: { code: number; reason: string } | null = null;
  #pendingClose: { code: number | undefined; reason: string } | null = null;
  #idle: { clear(): void } | null = null;
  #sawInput = false;
  #pinged = false;
  #quietTicks = 0; // checks without input since the ping

  /** @internal Made by `upgradeWebSocket()`. */
  constructor(settings: SocketSettings) {
    super();
    this.#settings = settings;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): number {
    return this.#state;
  }

  /** The request URL, as ws: or wss:. */
  get url(): string {
    return this.#settings.url;
  }

  /** The subprotocol selected in the handshake, or "". */
  get protocol(): string {
    return this.#settings.protocol;
  }

  /** The extensions agreed in the handshake (permessage-deflate and its parameters), or "". */
  get extensions(): string {
    return this.#settings.extensions;
  }

  /** How binary messages arrive: "blob" (default) or "arraybuffer". */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /**
   * Bytes of messages accepted by `send()` and not yet handed to the
   * connection because it is above its high-water mark (or still being
   * compressed). A sender that waits while this is high keeps memory bounded.
   */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** Called when the connection opens. */
  get onopen(): WebSocketEventHandler<Event> {
    return this.#handlers.get("open") ?? null;
  }
  set onopen(fn: WebSocketEventHandler<Event>) {
    this.#setHandler("open", fn);
  }
  /** Called for every message. */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return (this.#handlers.get("message") as WebSocketEventHandler<MessageEvent>) ?? null;
  }
  set onmessage(fn: WebSocketEventHandler<MessageEvent>) {
    this.#setHandler("message", fn as WebSocketEventHandler<Event>);
  }
  /** Called when the connection fails, before `onclose`. */
  get onerror(): WebSocketEventHandler<Event> {
    return this.#handlers.get("error") ?? null;
  }
  set onerror(fn: WebSocketEventHandler<Event>) {
    this.#setHandler("error", fn);
  }
  /** Called once when the connection has closed. */
  get onclose(): WebSocketEventHandler<CloseEvent> {
    return (this.#handlers.get("close") as WebSocketEventHandler<CloseEvent>) ?? null;
  }
  set onclose(fn: WebSocketEventHandler<CloseEvent>) {
    this.#setHandler("close", fn as WebSocketEventHandler<Event>);
  }

  #setHandler(type: string, fn: WebSocketEventHandler<Event>): void {
    const had = this.#handlers.has(type);
    this.#handlers.set(type, typeof fn === "function" ? fn : null);
    if (!had) {
      // Registered once, at the first assignment, like an event handler attribute.
      const wrapper = (ev: Event) => this.#handlers.get(type)?.call(this, ev);
      this.#addListener(type, wrapper, false, false);
    }
  }

  /** Adds a listener (`once`, `signal` and `handleEvent` objects are supported). */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (!listener) return;
    const capture = typeof options === "boolean" ? options : !!options?.capture;
    const once = typeof options === "object" && !!options.once;
    const signal = typeof options === "object" ? options.signal : undefined;
    if (signal?.aborted) return;
    if (!this.#addListener(type, listener, capture, once)) return;
    signal?.addEventListener("abort", () => this.removeEventListener(type, listener, capture), { once: true });
  }

  #addListener(type: string, fn: EventListenerOrEventListenerObject, capture: boolean, once: boolean): boolean {
    let list = this.#listeners.get(type);
    if (!list) this.#listeners.set(type, list = []);
    if (list.some((l) => l.fn === fn && l.capture === capture)) return false;
    list.push({ fn, capture, once, removed: false });
    return true;
  }

  /** Removes a listener. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const list = this.#listeners.get(type);
    if (!list || !listener) return;
    const capture = typeof options === "boolean" ? options : !!options?.capture;
    const i = list.findIndex((l) => l.fn === listener && l.capture === capture);
    if (i >= 0) {
      list[i].removed = true;
      list.splice(i, 1);
    }
  }

  /** Dispatches `event` to this socket's listeners. */
  override dispatchEvent(event: Event): boolean {
    this.#emit(event);
    return !event.defaultPrevented;
  }

  #emit(event: Event): void {
    setTarget(event, this);
    const list = this.#listeners.get(event.type);
    if (!list || list.length === 0) return;
    const snapshot = list.length === 1 ? list : list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      const l = snapshot[i];
      if (l.removed) continue;
      if (l.once) this.removeEventListener(event.type, l.fn, l.capture);
      try {
        const r = typeof l.fn === "function"
          ? (l.fn as (e: Event) => unknown).call(this, event)
          : l.fn.handleEvent(event);
        if (r !== null && typeof r === "object" && typeof (r as Promise<unknown>).then === "function") {
          (r as Promise<unknown>).then(undefined, (e) => report(event.type, e));
        }
      } catch (e) {
        report(event.type, e);
      }
    }
  }

  /**
   * Sends a message: a string as text, bytes or a Blob as binary. Messages
   * go out in the order sent. Throws in CONNECTING; ignored once closing.
   */
  send(data: WebSocketData): void {
    if (this.#state === 0) throw new DOMException("WebSocket is not open yet", "InvalidStateError");
    if (this.#state !== 1) return;
    if (typeof data === "string") {
      const codec = this.#codec;
      if (codec !== null && data.length * 3 >= DEFLATE_THRESHOLD) {
        const bytes = encoder.encode(data);
        if (bytes.byteLength >= DEFLATE_THRESHOLD) return this.#enqueueDeflate(OP_TEXT, bytes);
        return this.#enqueue(encodeFrame(OP_TEXT, bytes), bytes.byteLength);
      }
      const frame = encodeTextFrame(data);
      return this.#enqueue(frame, payloadSize(frame));
    }
    if (data instanceof Blob) {
      const size = data.size;
      return this.#push({
        frame: null,
        size,
        make: () => data.arrayBuffer().then((buf) => this.#binaryFrame(new Uint8Array(buf))),
      });
    }
    let bytes: Uint8Array;
    if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else if (
      data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && data instanceof SharedArrayBuffer)
    ) {
      bytes = new Uint8Array(data);
    } else throw new TypeError("send() takes a string, an ArrayBuffer, an ArrayBufferView or a Blob");
    if (this.#codec !== null && bytes.byteLength >= DEFLATE_THRESHOLD) {
      // The caller may change its buffer after send() returns: compress a copy.
      return this.#enqueueDeflate(OP_BINARY, copyBytes(bytes));
    }
    this.#enqueue(encodeFrame(OP_BINARY, bytes), bytes.byteLength);
  }

  static {
    attach = (ws, conn, rest, group) => ws.#attach(conn, rest, group);
    refuse = (ws, message) => ws.#refuse(message);
  }

  /** The handshake was refused: the socket never opens; error and close follow asynchronously. */
  #refuse(message: string): void {
    setTimeout(() => {
      if (this.#state !== 0) return;
      this.#state = 3;
      this.#emit(new WebSocketErrorEvent(`WebSocket handshake refused: ${message}`));
      this.#emit(new CloseEvent("close", { code: CLOSE_ABNORMAL, reason: "", wasClean: false }));
    }, 0);
  }

  #binaryFrame(bytes: Uint8Array): Promise<Uint8Array> | Uint8Array {
    if (this.#codec !== null && bytes.byteLength >= DEFLATE_THRESHOLD) {
      return this.#codec.deflate(bytes).then((c) => encodeFrame(OP_BINARY, c, true));
    }
    return encodeFrame(OP_BINARY, bytes);
  }

  #enqueueDeflate(opcode: number, bytes: Uint8Array): void {
    const codec = this.#codec!;
    this.#push({
      frame: null,
      size: bytes.byteLength,
      make: () => codec.deflate(bytes).then((c) => encodeFrame(opcode, c, true)),
    });
  }

  /** Writes a ready frame now when nothing waits, else queues it. */
  #enqueue(frame: Uint8Array, size: number): void {
    if (this.#queue.length === this.#queueHead && !this.#blocked && !this.#making) {
      if (!this.#conn!.write(frame)) this.#blocked = true;
      return;
    }
    this.#push({ frame, make: null, size });
  }

  #push(item: Outgoing): void {
    this.#queue.push(item);
    this.#buffered += item.size;
    this.#pump();
  }

  /** Hands queued frames to the connection until it pushes back or a frame is still being made. */
  #pump(): void {
    const conn = this.#conn;
    if (conn === null) return;
    while (!this.#blocked && !this.#making && this.#queueHead < this.#queue.length) {
      const item = this.#queue[this.#queueHead];
      if (item.frame === null) {
        this.#making = true;
        let made: Promise<Uint8Array>;
        try {
          made = Promise.resolve(item.make!());
        } catch (e) {
          made = Promise.reject(e);
        }
        made.then(
          (frame) => {
            this.#making = false;
            item.frame = frame;
            item.make = null;
            this.#pump();
          },
          (e) => {
            this.#making = false;
            this.#fail(CLOSE_INTERNAL_ERROR, "could not prepare a message", e);
          },
        );
        return;
      }
      this.#queue[this.#queueHead++] = undefined as unknown as Outgoing;
      this.#buffered -= item.size;
      if (this.#queueHead === this.#queue.length) {
        this.#queue = [];
        this.#queueHead = 0;
      }
      if (item.frame.byteLength > 0 && !conn.write(item.frame)) this.#blocked = true;
      item.after?.();
    }
  }

  /**
   * Starts the closing handshake. `code` is 1000 or 3000–4999, `reason` at
   * most 123 bytes of UTF-8 (otherwise it throws, as the WHATWG interface
   * does). Messages sent before go out first.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`close code must be 1000 or 3000-4999, got ${code}`, "InvalidAccessError");
    }
    const why = reason ?? "";
    if (encoder.encode(why).byteLength > 123) {
      throw new DOMException("close reason must be at most 123 bytes of UTF-8", "SyntaxError");
    }
    if (code === undefined && why !== "") code = 1000;
    this.#startClose(code, why);
  }

  #startClose(code: number | undefined, reason: string): void {
    if (this.#state >= 2) return;
    if (this.#state === 0) {
      this.#pendingClose = { code, reason };
      return;
    }
    this.#state = 2;
    this.#sendClose(code, reason);
  }

  /** Queues our close frame after what is already queued, and bounds the wait for the peer. */
  #sendClose(code: number | undefined, reason: string): void {
    this.#sentClose = true;
    const received = this.#received !== null;
    this.#push({
      frame: encodeFrame(OP_CLOSE, closePayload(code, reason)),
      make: null,
      size: 0,
      // The server closes TCP first (RFC 6455 §7.1.1) once both close frames have passed.
      after: received ? () => this.#conn?.end() : undefined,
    });
    this.#armCloseTimer();
  }

  /**
   * Bounds the closing handshake: the connection is dropped after
   * CLOSE_TIMEOUT without progress. Progress is a drain of the send queue,
   * so that messages queued before close() still reach a slow reader, while a
   * peer that reads nothing and never answers cannot hold the socket.
   */
  #armCloseTimer(): void {
    if (this.#closeTimer !== null) return;
    this.#progress = false;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = null;
      if (this.#progress && this.#state !== 3) this.#armCloseTimer();
      else this.#conn?.destroy();
    }, CLOSE_TIMEOUT);
  }

  /** Fails the connection: drops queued messages, sends a close frame with `code`, closes TCP. */
  #fail(code: number, reason: string, error?: unknown): void {
    if (this.#state === 3 || this.#failure !== null) return;
    this.#failure = { code, reason };
    this.#state = 2;
    this.#receiver?.stop();
    this.#queue = [];
    this.#queueHead = 0;
    this.#buffered = 0;
    const conn = this.#conn!;
    if (!this.#sentClose) {
      this.#sentClose = true;
      conn.write(encodeFrame(OP_CLOSE, closePayload(code, reason.length <= 40 ? reason : "")));
    }
    // Reading on, whatever paused it: the peer's close frame and FIN end the
    // connection (Node's end() does not resume a paused socket; Deno's and Bun's do).
    conn.resume();
    conn.end();
    this.#armCloseTimer();
    this.#emit(new WebSocketErrorEvent(reason, error));
  }

  /** Takes over the connection after the 101 was written. */
  #attach(conn: Conn, rest: Uint8Array, group: ResourceGroup): AttachedSocket {
    this.#conn = conn;
    const make = this.#settings.codec;
    if (make) this.#codec = make();
    this.#receiver = new Receiver(this.#sink(), this.#settings.maxPayload, this.#codec ?? undefined);
    const idle = this.#settings.idleTimeout;
    // Checked every half period: a ping goes out after idle/2 to idle of
    // silence. Checked once a period, an answered ping's pong counted as
    // input for the next check, and an idle socket was pinged every 2 ×
    // idleTimeout: past nginx's proxy_read_timeout (60 s) with the defaults.
    if (idle > 0) this.#idle = group.setInterval(() => this.#idleTick(), idle * 500);
    const attached: AttachedSocket = {
      onData: (chunk) => {
        this.#sawInput = true;
        this.#receiver!.push(chunk);
      },
      onDrain: () => {
        this.#progress = true;
        this.#blocked = false;
        this.#pump();
      },
      onEnd: () => {
        // The peer stopped sending: after its close frame that is the normal end; before, the connection dropped.
        this.#conn?.end();
      },
      onClose: () => this.#closed(),
      closeGracefully: () => this.#startClose(CLOSE_GOING_AWAY, "server shutting down"),
    };
    if (this.#pendingClose !== null) {
      this.#state = 2;
      this.#sendClose(this.#pendingClose.code, this.#pendingClose.reason);
    } else {
      this.#state = 1;
      this.#emit(new SocketEvent("open"));
    }
    if (rest.byteLength > 0 && this.#state !== 3) attached.onData(rest);
    return attached;
  }

  #sink(): ReceiverSink {
    return {
      onText: (text) => {
        if (this.#state === 1) this.#emit(new SocketMessageEvent("message", { data: text }));
      },
      onBinary: (bytes) => {
        if (this.#state !== 1) return;
        let data: ArrayBuffer | Blob;
        if (this.#binaryType === "arraybuffer") {
          data = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
            ? bytes.buffer as ArrayBuffer
            : copyBytes(bytes).buffer as ArrayBuffer;
        } else data = new Blob([bytes as Uint8Array<ArrayBuffer>]);
        this.#emit(new SocketMessageEvent("message", { data }));
      },
      onPing: (payload) => {
        // Straight to the connection, ahead of queued messages: every message is one frame, so a control
        // frame may go between any two of them (RFC 6455 §5.4).
        if (!this.#sentClose) this.#conn!.write(encodeFrame(OP_PONG, payload));
      },
      onPong: () => {
        this.#pinged = false;
      },
      onCloseFrame: (code, reason) => {
        this.#received = { code, reason };
        if (this.#sentClose) {
          // Our close frame went out (or is queued): both have passed once the queue empties.
          this.#whenFlushed(() => this.#conn?.end());
        } else {
          this.#state = 2;
          // The peer's code and reason echoed, as Deno's and Bun's servers do (RFC 6455 §5.5.1 asks for the code).
          this.#sendClose(code === CLOSE_NO_STATUS ? undefined : code, code === CLOSE_NO_STATUS ? "" : reason);
        }
      },
      onProtocolError: (code, reason) => this.#fail(code, reason),
      pause: () => this.#conn?.pause(),
      resume: () => this.#conn?.resume(),
    };
  }

  #whenFlushed(fn: () => void): void {
    if (this.#queueHead === this.#queue.length && !this.#making) return fn();
    this.#push({ frame: new Uint8Array(0), make: null, size: 0, after: fn });
  }

  // Every idleTimeout / 2.
  #idleTick(): void {
    if (this.#state !== 1) return;
    if (this.#sawInput) {
      this.#sawInput = false;
      this.#pinged = false;
      return;
    }
    if (!this.#pinged) {
      this.#pinged = true;
      this.#quietTicks = 0;
      this.#conn!.write(encodeFrame(OP_PING, new Uint8Array(0)));
      return;
    }
    if (++this.#quietTicks < 2) return;
    // A whole idleTimeout after the ping, nothing came back: the peer is gone.
    this.#failure = { code: CLOSE_ABNORMAL, reason: "no pong within idleTimeout" };
    this.#emit(new WebSocketErrorEvent("no pong within idleTimeout"));
    this.#conn!.destroy();
  }

  #closed(): void {
    if (this.#state === 3) return;
    this.#state = 3;
    if (this.#closeTimer !== null) clearTimeout(this.#closeTimer);
    this.#closeTimer = null;
    this.#idle?.clear();
    this.#receiver?.stop();
    this.#codec?.close();
    this.#queue = [];
    this.#queueHead = 0;
    this.#buffered = 0;
    let init: { code: number; reason: string; wasClean: boolean };
    if (this.#failure !== null) init = { ...this.#failure, wasClean: false };
    else if (this.#received !== null) init = { ...this.#received, wasClean: this.#sentClose };
    else init = { code: CLOSE_ABNORMAL, reason: "", wasClean: false };
    this.#emit(new CloseEvent("close", init));
  }
}

/** The payload length of a frame we built (header of 2, 4 or 10 bytes). */
function payloadSize(frame: Uint8Array): number {
  const len7 = frame[1] & 0x7f;
  return frame.byteLength - (len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}

function report(type: string, error: unknown): void {
  console.error(`portico: a WebSocket "${type}" listener threw:`, error);
}
