/**
 * portico: a portable HTTP/1.1 server toolkit for Node, Deno and Bun.
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * serve({ port: 8000, fetch: () => new Response("Hello, World!") });
 * ```
 *
 * @module
 */

export { defaultAdapter, serve } from "./serve.ts";
export type {
  Handler,
  ServeHandlerInfo,
  ServeInit,
  ServeLimits,
  ServeOptions,
  Server,
  ServeTimeouts,
} from "./types.ts";
export type { Conn, ConnHandler, Listener, ListenOptions, NetAddr, SocketAdapter } from "./adapter.ts";
export { GroupShutdownError, ResourceGroup } from "./groups/group.ts";
export type { Closeable, GroupHolder, GroupUsage, ResourceGroupOptions } from "./groups/group.ts";
export { HttpError } from "./http/errors.ts";
export type { HttpErrorCode } from "./http/errors.ts";
export { DEFAULT_LIMITS, RequestParser } from "./http/parser.ts";
export type { BodyFraming, ParserHandler, ParserLimits, RequestHead } from "./http/parser.ts";
