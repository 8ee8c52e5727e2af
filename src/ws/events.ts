/**
 * The events a server-side WebSocket fires. Node 20 has no global
 * `CloseEvent` or `ErrorEvent`, so portico defines both (same fields as the
 * WHATWG ones) and uses them on every runtime.
 *
 * @module
 */

/** What `new CloseEvent(type, init)` takes. */
export interface CloseEventInit extends EventInit {
  /** The close code (1005 when the peer sent none, 1006 when the connection dropped). */
  code?: number;
  /** The close reason. */
  reason?: string;
  /** True when both sides exchanged close frames before TCP closed. */
  wasClean?: boolean;
}

/**
 * Fired once when a WebSocket has closed.
 *
 * @example
 * ```ts
 * import { CloseEvent } from "portico";
 * const e = new CloseEvent("close", { code: 1000, reason: "bye", wasClean: true });
 * console.log(e.code, e.reason, e.wasClean);
 * ```
 */
export class CloseEvent extends Event {
  /** The close code. */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
  /** Creates the event. */
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/**
 * Fired when a WebSocket fails (a protocol error, an idle timeout), before
 * its close event.
 *
 * @example
 * ```ts
 * import { serve, upgradeWebSocket, type WebSocketErrorEvent } from "portico";
 * serve({ fetch(req) {
 *   const { socket, response } = upgradeWebSocket(req);
 *   socket.onerror = (e) => console.log("failed:", (e as WebSocketErrorEvent).message);
 *   return response;
 * } });
 * ```
 */
export class WebSocketErrorEvent extends Event {
  /** What went wrong, one line. */
  readonly message: string;
  /** The underlying error, if any. */
  readonly error: unknown;
  /** Creates an "error" event. */
  constructor(message: string, error?: unknown) {
    super("error");
    this.message = message;
    this.error = error;
  }
}

const kTarget = Symbol("target");

/**
 * Sets what `event.target` and `event.currentTarget` answer. portico
 * dispatches its own events (so that a throwing listener is reported instead
 * of crashing the process), and the platform sets `target` only in its own
 * `dispatchEvent`.
 */
export function setTarget(event: Event, target: EventTarget): void {
  (event as unknown as Record<symbol, EventTarget>)[kTarget] = target;
}

/** Event subclasses whose `target` is set by {@link setTarget}. */
function withTarget<T extends abstract new (...args: never[]) => Event>(Base: T): void {
  const get = function (this: Event & Record<symbol, EventTarget | undefined>) {
    return this[kTarget] ?? null;
  };
  Object.defineProperty(Base.prototype, "target", { get, configurable: true });
  Object.defineProperty(Base.prototype, "currentTarget", { get, configurable: true });
}

/** A `MessageEvent` (instanceof holds) whose target is the socket. */
export class SocketMessageEvent extends MessageEvent<unknown> {}
/** A plain event ("open") whose target is the socket. */
export class SocketEvent extends Event {}

withTarget(CloseEvent);
withTarget(WebSocketErrorEvent);
withTarget(SocketMessageEvent);
withTarget(SocketEvent);
