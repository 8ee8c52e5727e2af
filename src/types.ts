/**
 * The public types of `serve()`: handler, options, server.
 *
 * @module
 */

import type { NetAddr, SocketAdapter, TcpAddr } from "./adapter.ts";
import type { ResourceGroup } from "./groups/group.ts";

/**
 * What a handler learns about a request besides the Request itself.
 *
 * `remoteAddr` is typed as TCP, which it is unless the server listens on a
 * unix socket (`path`): there it is `{ transport: "unix", path: "" }`, and a
 * handler that wants that in its type takes `ServeHandlerInfo<NetAddr>`.
 *
 * @example
 * ```ts
 * import { serve, type ServeHandlerInfo } from "portico";
 * serve({
 *   fetch(request: Request, info: ServeHandlerInfo): Response {
 *     const { hostname, port } = info.remoteAddr;
 *     info.completed.then(() => console.log(`answered ${hostname}:${port} ${request.url}`));
 *     // Closed with the request: when the response is done or the client goes away.
 *     info.group.setTimeout(() => console.log("still streaming after 10 s"), 10_000);
 *     return new Response(`hello ${hostname}`);
 *   },
 * });
 * ```
 */
export interface ServeHandlerInfo<A extends NetAddr = TcpAddr> {
  /** The client's address. */
  readonly remoteAddr: A;
  /** Settles when the response has been written, or the connection died first. */
  readonly completed: Promise<void>;
  /** This request's resource group: closed when the response is done or the client goes away. */
  readonly group: ResourceGroup;
}

/**
 * A fetch handler, as Deno's built-in `serve` and Hono's `app.fetch` take it.
 *
 * @example
 * ```ts
 * import type { Handler } from "portico";
 * const hello: Handler = (req) => new Response(`hello ${new URL(req.url).pathname}`);
 * ```
 */
export type Handler<A extends NetAddr = TcpAddr> = (
  request: Request,
  info: ServeHandlerInfo<A>,
) => Response | Promise<Response>;

/** Size limits, in bytes (counts of connections for `maxConnections`). */
export interface ServeLimits {
  /** Largest header section; beyond it, 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Longest request-target; beyond it, 414. Default 8 KiB. */
  maxUrlBytes?: number;
  /** Largest request body, declared or received; beyond it, 413. Default 100 MiB. */
  maxBodyBytes?: number;
  /** Most connections served at once. Default: unlimited. */
  maxConnections?: number;
  /**
   * What happens at `maxConnections`: `"wait"` (default) stops accepting —
   * on Deno new clients wait in the kernel backlog; Node and Bun cannot pause
   * accepting, so there they are accepted and parked unread until a slot
   * frees — or `"reject"`, Hunchentoot's way: answer 503 at once and close.
   */
  atMaxConnections?: "wait" | "reject";
  /** Byte budget of one connection's buffers; over it, the connection is closed. Default 1 MiB. */
  connectionBytes?: number;
}

/** Timeouts, in milliseconds. */
export interface ServeTimeouts {
  /** The whole request head must arrive within this. Default 10 000. */
  headers?: number;
  /** The longest a request body may sit idle. Default 30 000. */
  body?: number;
  /** The longest an idle keep-alive connection is kept. Default 5 000. */
  keepAlive?: number;
  /** The longest a client may stop reading a response. Default 30 000. */
  send?: number;
  /**
   * A handler that has not started its response by then has its request
   * group shut down (its `signal` aborts), the client gets a 503 and the
   * connection closes. Default: no limit.
   */
  handler?: number;
  /**
   * Bound on a graceful `shutdown()`: after it every connection still open
   * is closed at once and `shutdown()` resolves. Default 30 000.
   */
  shutdown?: number;
}

/**
 * Options of `serve()`, everything but the handler (`ServeInit` adds `fetch`).
 *
 * @example
 * ```ts
 * import { serve, type ServeOptions } from "portico";
 * const options: ServeOptions = {
 *   port: 8080,
 *   hostname: "127.0.0.1",
 *   limits: { maxBodyBytes: 1024 * 1024, maxConnections: 1000 },
 *   timeouts: { headers: 5_000, keepAlive: 10_000 },
 *   onListen: (addr) => console.log("listening", addr),
 *   onError: (error) => new Response(`sorry: ${error}`, { status: 500 }),
 * };
 * serve(options, () => new Response("hi"));
 * ```
 */
export interface ServeOptions {
  /** Port to listen on; default 8000; 0 picks a free port. */
  port?: number;
  /** Address to listen on; default "0.0.0.0". */
  hostname?: string;
  /**
   * A unix socket to listen on instead of a port (then leave out `port`,
   * `hostname`, `reusePort` and `tls`). The socket file is removed on
   * shutdown; `addr` is `{ transport: "unix", path }`.
   */
  path?: string;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Called once listening; default logs "Listening on http://0.0.0.0:8000/ (http://localhost:8000/)", as Deno's built-in server does. */
  onListen?: (addr: NetAddr) => void;
  /** Turns a handler error into a response; default logs it and answers 500. */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** The transport; default: the adapter of the runtime this runs on. */
  adapter?: SocketAdapter;
  /** Let several processes listen on the same port (where the runtime supports it). */
  reusePort?: boolean;
  /** Kernel accept-queue length (where the runtime supports it). */
  backlog?: number;
  /**
   * Certificate and key, to serve HTTPS: each as PEM text, a PEM file's
   * path, or a PEM file's bytes (`readFileSync("cert.pem")`).
   */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2, TCP4 or
   * TCP6), as a load balancer sends it; `info.remoteAddr` is then the
   * client's address and port from it. A connection without a valid header
   * gets 400 and is closed; one that sends none within 3 s is closed.
   */
  proxyProtocol?: boolean;
  /**
   * Believe `X-Forwarded-For`, `-Proto` and `-Host` from peers at these
   * addresses or CIDR ranges (`true`: any peer): `info.remoteAddr.hostname`
   * becomes the nearest untrusted address in `X-Forwarded-For`, and
   * `request.url` takes its scheme and host from `-Proto` and `-Host`.
   * Without it, those are plain headers.
   */
  trustProxy?: boolean | string[];
  /** Size limits. */
  limits?: ServeLimits;
  /** Timeouts. */
  timeouts?: ServeTimeouts;
  /**
   * Replace the global `Response` with portico's lightweight one (default
   * true): a `Response` made from a string, bytes or nothing keeps its parts
   * and builds the platform's only when asked, and the server writes it
   * straight from its parts — about twice as fast for small responses on
   * every runtime. `instanceof Response` holds for both kinds. Set false if
   * something in the process needs every Response to be the platform's own
   * (a Cache API `put`, say).
   */
  lightResponse?: boolean;
}

/** `ServeOptions` with the handler, the form `serve({ fetch })` takes. */
export interface ServeInit<A extends NetAddr = TcpAddr> extends ServeOptions {
  /**
   * The request handler. Its `info.remoteAddr` is typed TCP unless the
   * handler says otherwise: `Handler<UnixAddr>` or `Handler<NetAddr>` for
   * a unix socket (`path`).
   */
  fetch: Handler<A>;
}

/**
 * A running server, as `serve()` returns it at once; `ready()` waits until it
 * listens.
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * const server = serve({ port: 0, onListen() {}, fetch: () => new Response("hi") });
 * await server.ready(); // rejects if the port cannot be bound
 * const res = await fetch(server.url); // http://localhost:<port>/
 * console.log(await res.text());
 * await server.shutdown(); // graceful: in-flight requests finish first
 * await server.finished;
 * ```
 */
export interface Server extends AsyncDisposable {
  /** The bound address, once listening (`await server.ready()` waits for it). */
  readonly addr: NetAddr;
  /**
   * `"http://host:port/"` (`https://` with TLS) once listening, with the
   * wildcard addresses shown as `localhost`; `""` before. On a unix socket
   * (`path`), `"http+unix://%2Ftmp%2Fapp.sock/"`: the socket's path,
   * percent-encoded, as the host.
   *
   * @example
   * ```ts
   * import { serve } from "portico";
   * const server = await serve({ port: 0, fetch: () => new Response("hi") }).ready();
   * console.log(await (await fetch(server.url)).text()); // "hi"
   * await server.shutdown();
   * ```
   */
  readonly url: string;
  /** Resolves with the server once it is listening; rejects with the listen error. */
  ready(): Promise<Server>;
  /** Settles when the server has stopped; rejects if it could not listen. */
  readonly finished: Promise<void>;
  /** The root resource group: `group.shutdown()` drops everything at once. */
  readonly group: ResourceGroup;
  /** Graceful: stop accepting, finish in-flight requests, close idle connections. */
  shutdown(): Promise<void>;
  /** Keeps the process alive while serving (the default). */
  ref(): void;
  /** Lets the process exit while serving. */
  unref(): void;
}
