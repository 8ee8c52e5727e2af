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

// The one import that leaves src/: it binds the runtime this program runs on
// (runtime.ts chooses it), so that loading this entry alone gives a working
// serve(). The core below this file never asks which runtime it is on.
import "../runtime.ts";

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
export type { HttpErrorCode, HttpErrorOptions } from "./http/errors.ts";
export { DEFAULT_LIMITS, RequestParser } from "./http/parser.ts";
export type { BodyFraming, ParserHandler, ParserLimits, RequestHead } from "./http/parser.ts";
export { Router } from "./router/router.ts";
export type { Mountable, RouteContext, RouteHandler } from "./router/router.ts";
export { RouteTrie } from "./router/trie.ts";
export type { RouteEntry, TrieMatch } from "./router/trie.ts";
export { escapeHtml, Html, html, htmlResponse, unsafeHtml } from "./html/html.ts";
export type { HtmlValue } from "./html/html.ts";
export { Fields, form, query } from "./forms/fields.ts";
export type { FormOptions } from "./forms/fields.ts";
export { servlet } from "./continuations/servlet.ts";
export type { EmbeddedHandler, Page, Servlet, ServletOptions, Web } from "./continuations/servlet.ts";
export { ContinuationStoreError, Instance, lruManager, noneManager } from "./continuations/manager.ts";
export type { Continuation, ContinuationManager, LruOptions, Parked, Responder } from "./continuations/manager.ts";
export { StatelessCodec } from "./continuations/stateless.ts";
export type { Decoded, StatelessOptions } from "./continuations/stateless.ts";
export type { Entry, HeaderPolicy, RecordEntry, RequestEntry } from "./continuations/log.ts";
export { supervise } from "./workers/supervisor.ts";
export type { SuperviseOptions, Supervisor } from "./workers/supervisor.ts";
export type { WorkerExit, WorkerLauncher, WorkerProcess } from "./workers/launcher.ts";
export { stopOnSignal, WORKER_ENV, workerId } from "./workers/worker.ts";
export { serveDir } from "./static/serve_dir.ts";
export type { Dotfiles, ServeDirOptions } from "./static/serve_dir.ts";
export { serveFile } from "./static/serve_file.ts";
export type { ServeFileOptions } from "./static/serve_file.ts";
export type { EtagMode } from "./static/etag.ts";
export { installLightResponse, makeLightResponse, RESPONSE_PARTS } from "./server/light_response.ts";
export type { ResponseParts } from "./server/light_response.ts";
