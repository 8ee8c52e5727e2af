/**
 * portico: a portable HTTP/1.1 server toolkit for Node, Deno and Bun.
 *
 * This entry has what a first program needs: `serve` and its types,
 * `ResourceGroup`, `HttpError`, `Router`, `html`, typed `query`/`form`
 * fields, `serveDir`/`serveFile`, `servlet` with its managers,
 * `supervise`/`workerId`, and the `RequestParser`. The rest of each feature
 * is on its own entry: `portico/static`, `portico/continuations`,
 * `portico/workers`, `portico/redis`, and the socket adapters under
 * `portico/adapters/*` (JSR: `@portico/portico/static`, …).
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * serve({ port: 8000, fetch: () => new Response("Hello, World!") });
 * ```
 *
 * @module
 */

// The one import that leaves src/: it binds the runtime this program runs on
// (runtime.ts chooses it), so that loading this entry alone gives a working
// serve(). The core below this file never asks which runtime it is on.
import "../runtime.ts";

export { serve } from "./serve.ts";
export type {
  Handler,
  ServeHandlerInfo,
  ServeInit,
  ServeLimits,
  ServeOptions,
  Server,
  ServeTimeouts,
} from "./types.ts";
export type {
  Conn,
  ConnHandler,
  Listener,
  ListenOptions,
  NetAddr,
  SocketAdapter,
  TcpAddr,
  UnixAddr,
} from "./adapter.ts";
export { GroupShutdownError, ResourceGroup } from "./groups/group.ts";
export type { Closeable, GroupHolder, GroupUsage, ResourceGroupOptions } from "./groups/group.ts";
export { HttpError } from "./http/errors.ts";
export type { HttpErrorCode, HttpErrorOptions } from "./http/errors.ts";
export { Router } from "./router/router.ts";
export type { Mountable, RouteContext, RouteHandler } from "./router/router.ts";
export { escapeHtml, html, htmlResponse, unsafeHtml } from "./html/html.ts";
export type { Html, HtmlValue } from "./html/html.ts";
export { form, query } from "./forms/fields.ts";
export type { Fields, FormOptions } from "./forms/fields.ts";
export { serveDir, serveFile } from "./static/mod.ts";
export type { Dotfiles, EtagMode, ServeDirOptions, ServeFileOptions } from "./static/mod.ts";
export { lruManager, noneManager, servlet } from "./continuations/mod.ts";
export type {
  Continuation,
  ContinuationManager,
  EmbeddedHandler,
  Entry,
  Instance,
  LruOptions,
  Page,
  RecordEntry,
  RequestEntry,
  Servlet,
  ServletOptions,
  StatelessOptions,
  Web,
} from "./continuations/mod.ts";
export { supervise, workerId } from "./workers/mod.ts";
export type { SuperviseOptions, Supervisor, WorkerExit, WorkerLauncher, WorkerProcess } from "./workers/mod.ts";
export { RequestParser } from "./http/parser.ts";
export type { BodyFraming, ParserHandler, ParserLimits, RequestHead } from "./http/parser.ts";
export { CloseEvent, upgradeWebSocket } from "./ws/mod.ts";
export type {
  BinaryType,
  ServerWebSocket,
  UpgradeWebSocketOptions,
  WebSocketData,
  WebSocketErrorEvent,
  WebSocketEventHandler,
  WebSocketUpgrade,
} from "./ws/mod.ts";
