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

export { serve, defaultAdapter } from "./serve.ts";
export type { Handler, ServeHandlerInfo, ServeInit, ServeLimits, ServeOptions, ServeTimeouts, Server } from "./types.ts";
export type { Conn, ConnHandler, Listener, ListenOptions, NetAddr, SocketAdapter } from "./adapter.ts";
export { ResourceGroup, GroupShutdownError } from "./groups/group.ts";
export type { Closeable, GroupHolder, GroupUsage, ResourceGroupOptions } from "./groups/group.ts";
export { HttpError } from "./http/errors.ts";
export type { HttpErrorCode } from "./http/errors.ts";
export { RequestParser, DEFAULT_LIMITS } from "./http/parser.ts";
export type { BodyFraming, ParserHandler, ParserLimits, RequestHead } from "./http/parser.ts";
