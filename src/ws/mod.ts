/**
 * WebSocket (RFC 6455, with permessage-deflate) in the portable core.
 *
 * @module
 */

export { DEFAULT_MAX_PAYLOAD, upgradeWebSocket } from "./upgrade_websocket.ts";
export type { UpgradeWebSocketOptions, WebSocketUpgrade } from "./upgrade_websocket.ts";
export { ServerWebSocket } from "./socket.ts";
export type { BinaryType, WebSocketData, WebSocketEventHandler } from "./socket.ts";
export { CloseEvent, WebSocketErrorEvent } from "./events.ts";
export type { CloseEventInit } from "./events.ts";
