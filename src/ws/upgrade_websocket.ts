/**
 * `upgradeWebSocket(request, options)`: the API of Deno's `upgradeWebSocket`,
 * on every runtime, over portico's own connections.
 *
 * @module
 */

import { upgradeResponse } from "../server/upgrade.ts";
import { DeflateCodec } from "./deflate.ts";
import { handshake } from "./handshake.ts";
import { attachSocket, refuseSocket, ServerWebSocket } from "./socket.ts";

/** Options of {@link upgradeWebSocket}. */
export interface UpgradeWebSocketOptions {
  /**
   * The subprotocol to select, if the client offered it (`Sec-WebSocket-Protocol`);
   * a list is tried in order.
   */
  protocol?: string | readonly string[];
  /**
   * Seconds without input after which a ping is sent; if nothing (a pong, or
   * any frame) comes back within as long again, the socket closes with 1006.
   * Default 30; 0 disables.
   */
  idleTimeout?: number;
  /** Largest message accepted, in bytes after decompression; a larger one closes with 1009. Default 16 MiB. */
  maxPayload?: number;
  /** Accept permessage-deflate when the client offers it. Default true. */
  compress?: boolean;
}

/** What {@link upgradeWebSocket} returns. */
export interface WebSocketUpgrade {
  /** The socket; it opens once the handler has returned `response`. */
  socket: ServerWebSocket;
  /** Return this from the handler: the 101, or the refusal (400, 405, 426) of an invalid handshake. */
  response: Response;
}

/** Default `maxPayload`: 16 MiB. */
export const DEFAULT_MAX_PAYLOAD: number = 16 * 1024 * 1024;

/**
 * Upgrades a request to a WebSocket (RFC 6455). Returns the socket and the
 * response to return from the handler. An invalid handshake is not thrown:
 * `response` is then a 400 (bad or missing key or headers), 405 (not GET) or
 * 426 with `Sec-WebSocket-Version: 13` (another version), and the socket
 * fires error and close without ever opening.
 *
 * @example
 * ```ts
 * import { serve, upgradeWebSocket } from "portico";
 * serve({ fetch(req) {
 *   if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("plain");
 *   const { socket, response } = upgradeWebSocket(req, { idleTimeout: 60 });
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * } });
 * ```
 */
export function upgradeWebSocket(request: Request, options: UpgradeWebSocketOptions = {}): WebSocketUpgrade {
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  if (!Number.isSafeInteger(maxPayload) || maxPayload < 0) {
    throw new TypeError(`maxPayload must be a non-negative integer, got ${maxPayload}`);
  }
  const idleTimeout = options.idleTimeout ?? 30;
  if (!(idleTimeout >= 0) || !Number.isFinite(idleTimeout)) {
    throw new TypeError(`idleTimeout must be a non-negative number of seconds, got ${idleTimeout}`);
  }
  const protocols = options.protocol === undefined
    ? []
    : typeof options.protocol === "string"
    ? [options.protocol]
    : options.protocol;
  const result = handshake(request, protocols, options.compress ?? true);
  const url = request.url.replace(/^http/, "ws");
  if (!("protocol" in result)) {
    const socket = new ServerWebSocket({
      url,
      protocol: "",
      extensions: "",
      maxPayload,
      idleTimeout,
      codec: undefined,
    });
    refuseSocket(socket, result.message);
    const headers = new Headers(result.headers);
    headers.set("content-type", "text/plain; charset=utf-8");
    return { socket, response: new Response(result.message + "\n", { status: result.status, headers }) };
  }
  const deflate = result.deflate;
  const socket = new ServerWebSocket({
    url,
    protocol: result.protocol,
    extensions: result.extensions,
    maxPayload,
    idleTimeout,
    codec: deflate ? () => new DeflateCodec(deflate) : undefined,
  });
  const response = upgradeResponse(result.headers, (conn, rest, group) => attachSocket(socket, conn, rest, group));
  return { socket, response };
}
