/**
 * Protocol upgrades (101 Switching Protocols): the contract between the
 * HTTP connection and whatever takes the socket over (WebSocket).
 *
 * A handler returns {@link upgradeResponse}. The connection then writes the
 * 101 head, stops parsing HTTP on that socket and calls the
 * {@link UpgradeHandler} with the socket, the bytes that arrived after the
 * request head and the request's group. From then on the socket's events go
 * to the {@link UpgradedConnection} it returned. The request group stays
 * open until the upgraded connection closes (its `onClose`) and is shut down
 * then; a graceful server shutdown calls `closeGracefully()` and waits for
 * `onClose` within `timeouts.shutdown`; an immediate one
 * (`server.group.shutdown()`) destroys the socket.
 *
 * @module
 */

import type { Conn, ConnHandler } from "../adapter.ts";
import type { ResourceGroup } from "../groups/group.ts";

/**
 * Takes over a connection after its 101 head has been written. `rest` holds
 * the bytes already received after the request head; it is valid during the
 * call only (copy what you keep).
 */
export type UpgradeHandler = (conn: Conn, rest: Uint8Array, group: ResourceGroup) => UpgradedConnection;

/** The ConnHandler of an upgraded connection, plus a graceful close the server calls at graceful shutdown. */
export interface UpgradedConnection extends ConnHandler {
  /** Graceful server shutdown: close the protocol politely (WebSocket: close 1001); `onClose` follows. */
  closeGracefully(): void;
}

/** What the connection finds on a Response made by {@link upgradeResponse}. */
export interface UpgradeRequest {
  /** The 101 head's fields, in order. */
  readonly headers: readonly [string, string][];
  /** Who takes the socket over. */
  readonly onUpgrade: UpgradeHandler;
}

/** The hidden field of an upgrade Response (a registered symbol: one per process, whichever copy made it). */
export const UPGRADE: unique symbol = Symbol.for("portico.upgrade") as never;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A `Response` (`instanceof Response` holds) with status 101 and these
 * headers. When a handler returns it, the server writes the head, stops
 * parsing HTTP on that connection and calls `onUpgrade` with the
 * connection, the bytes already received after the request head (valid
 * during the call only: copy what you keep), and the request's group.
 *
 * @example A line echo protocol
 * ```ts
 * import { upgradeResponse } from "./upgrade.ts";
 * const handler = (req: Request) =>
 *   req.headers.get("upgrade") === "echo"
 *     ? upgradeResponse([["upgrade", "echo"], ["connection", "Upgrade"]], (conn, rest) => {
 *       if (rest.length > 0) conn.write(rest.slice());
 *       return {
 *         onData: (chunk) => void conn.write(chunk.slice()),
 *         onDrain() {},
 *         onEnd: () => conn.end(),
 *         onClose() {},
 *         closeGracefully: () => conn.end(),
 *       };
 *     })
 *     : new Response("use Upgrade: echo", { status: 426 });
 * ```
 */
export function upgradeResponse(headers: [string, string][], onUpgrade: UpgradeHandler): Response {
  if (typeof onUpgrade !== "function") throw new TypeError("upgradeResponse: onUpgrade must be a function");
  const fields: [string, string][] = [];
  for (const [name, value] of headers) {
    if (!TOKEN.test(name)) throw new TypeError(`upgradeResponse: invalid header name ${JSON.stringify(name)}`);
    const v = String(value).trim();
    if (!VALUE.test(v)) throw new TypeError(`upgradeResponse: invalid value for header ${name}`);
    fields.push([name, v]);
  }
  // A platform Response cannot have status 101 (its constructor allows
  // 200–599), so the status is an own property over the prototype's getter.
  const response = new Response(null, { status: 200, headers: fields });
  Object.defineProperty(response, "status", { value: 101 });
  Object.defineProperty(response, "statusText", { value: "Switching Protocols" });
  Object.defineProperty(response, "ok", { value: false });
  const request: UpgradeRequest = { headers: fields, onUpgrade };
  Object.defineProperty(response, UPGRADE, { value: request });
  return response;
}

/** The upgrade a Response asks for, or undefined for an ordinary one. */
export function upgradeOf(response: Response): UpgradeRequest | undefined {
  return (response as { [UPGRADE]?: UpgradeRequest })[UPGRADE];
}
