/**
 * WebSocket for Hono apps served by portico, the way `hono/deno` and
 * `hono/bun` offer it: `app.get("/ws", upgradeWebSocket((c) => ({ onMessage(e, ws) { … } })))`.
 *
 * It needs nothing from Hono at run time: the context is typed by the few
 * members used, so any Hono 4 app (or anything with `c.req.raw`) fits.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { serve } from "portico";
 * import { upgradeWebSocket } from "portico/hono";
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket(() => ({
 *   onMessage(event, ws) {
 *     ws.send(`echo: ${event.data}`);
 *   },
 * })));
 * serve({ fetch: app.fetch });
 * ```
 *
 * @module
 */

import type { CloseEvent } from "./ws/events.ts";
import type { ServerWebSocket } from "./ws/socket.ts";
import { upgradeWebSocket as upgrade, type UpgradeWebSocketOptions } from "./ws/upgrade_websocket.ts";

/** The part of a Hono `Context` the helper uses. */
export interface HonoContextLike {
  /** The request. */
  req: { raw: Request; header(name: string): string | undefined };
}

/** What a message carries: text, or binary as an ArrayBuffer (the helper sets `binaryType`). */
export type WSMessageReceive = string | Blob | ArrayBufferLike;

/** The listeners of one connection, as Hono's `WSEvents`. */
export interface WSEvents {
  /** The connection opened. */
  onOpen?: (evt: Event, ws: WSContext) => void;
  /** A message arrived. */
  onMessage?: (evt: MessageEvent<WSMessageReceive>, ws: WSContext) => void;
  /** The connection closed. */
  onClose?: (evt: CloseEvent, ws: WSContext) => void;
  /** The connection failed (before onClose). */
  onError?: (evt: Event, ws: WSContext) => void;
}

/**
 * The `ws` argument of the listeners, shaped like Hono's `WSContext`.
 *
 * @example
 * ```ts
 * import { upgradeWebSocket, type WebSocketMiddleware, type WSContext } from "portico/hono";
 * const rooms = new Set<WSContext>();
 * export const chat: WebSocketMiddleware = upgradeWebSocket(() => ({
 *   onOpen: (_e, ws) => void rooms.add(ws),
 *   onMessage: (e) => rooms.forEach((ws) => ws.readyState === 1 && ws.send(String(e.data))),
 *   onClose: (_e, ws) => void rooms.delete(ws),
 * }));
 * ```
 */
export class WSContext {
  /** The portico socket underneath. */
  readonly raw: ServerWebSocket;
  /** The request URL (ws: or wss:). */
  readonly url: URL | null;
  /** The selected subprotocol, or "" when there is none (as hono/deno, hono/bun and @hono/node-ws give it). */
  readonly protocol: string;

  /** Wraps a socket. */
  constructor(socket: ServerWebSocket) {
    this.raw = socket;
    this.url = new URL(socket.url);
    this.protocol = socket.protocol;
  }

  /** Sends text or bytes. */
  send(source: string | ArrayBuffer | Uint8Array, _options?: { compress?: boolean }): void {
    this.raw.send(source);
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.raw.readyState as 0 | 1 | 2 | 3;
  }

  /** How binary messages arrive; "arraybuffer" unless changed. */
  get binaryType(): "blob" | "arraybuffer" {
    return this.raw.binaryType;
  }

  set binaryType(value: "blob" | "arraybuffer") {
    this.raw.binaryType = value;
  }

  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void {
    this.raw.close(code, reason);
  }
}

/** A Hono middleware: answers upgrade requests, passes the others on. */
export type WebSocketMiddleware = (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | void>;

function start(c: HonoContextLike, events: WSEvents, options: UpgradeWebSocketOptions | undefined): Response {
  // Like hono/deno: without a protocol option, the client's first subprotocol is selected.
  const first = c.req.header("sec-websocket-protocol")?.split(",")[0]?.trim();
  const { socket, response } = upgrade(c.req.raw, { ...(first ? { protocol: first } : {}), ...options });
  socket.binaryType = "arraybuffer";
  const ws = new WSContext(socket);
  socket.onopen = (e) => events.onOpen?.(e, ws);
  socket.onmessage = (e) => events.onMessage?.(e as MessageEvent<WSMessageReceive>, ws);
  socket.onclose = (e) => events.onClose?.(e, ws);
  socket.onerror = (e) => events.onError?.(e, ws);
  return response;
}

function isUpgrade(c: HonoContextLike): boolean {
  return c.req.header("upgrade")?.toLowerCase() === "websocket";
}

/**
 * Hono's `upgradeWebSocket`, on portico. With a function, it makes a
 * middleware: upgrade requests get the 101 (or the 400/426 of a bad
 * handshake), other requests go to the next handler. With a context and
 * events, it upgrades that request and resolves with the response.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { upgradeWebSocket } from "portico/hono";
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket((c) => ({
 *   onOpen(_e, ws) { ws.send("hello"); },
 *   onMessage(e, ws) { ws.send(e.data as string); },
 * }), { idleTimeout: 60 }));
 * ```
 */
export function upgradeWebSocket(
  createEvents: (c: HonoContextLike) => WSEvents | Promise<WSEvents>,
  options?: UpgradeWebSocketOptions,
): WebSocketMiddleware;
/** Upgrades `c`'s request with `events`; rejects when it is not an upgrade request. */
export function upgradeWebSocket(
  c: HonoContextLike,
  events: WSEvents,
  options?: UpgradeWebSocketOptions,
): Promise<Response>;
export function upgradeWebSocket(
  a: ((c: HonoContextLike) => WSEvents | Promise<WSEvents>) | HonoContextLike,
  b?: UpgradeWebSocketOptions | WSEvents,
  c?: UpgradeWebSocketOptions,
): WebSocketMiddleware | Promise<Response> {
  if (typeof a === "function") {
    const createEvents = a;
    const options = b as UpgradeWebSocketOptions | undefined;
    return async (ctx, next) => {
      if (!isUpgrade(ctx)) return await next();
      return start(ctx, await createEvents(ctx), options);
    };
  }
  if (!isUpgrade(a)) return Promise.reject(new Error("Failed to upgrade WebSocket: not an upgrade request"));
  return Promise.resolve(start(a, (b ?? {}) as WSEvents, c));
}
