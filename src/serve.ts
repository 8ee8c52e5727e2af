/**
 * `serve()`: option normalisation for the three call forms, runtime
 * detection, and the Server object.
 *
 * @module
 */

import type { Listener, NetAddr, SocketAdapter } from "./adapter.ts";
import { ResourceGroup } from "./groups/group.ts";
import { DEFAULT_LIMITS } from "./http/parser.ts";
import { DEFAULT_TIMEOUTS, ServerCore } from "./server/core.ts";
import { stopOnSignal, workerId } from "./workers/worker.ts";
import { installLightResponse } from "./server/light_response.ts";
import { platform } from "./platform.ts";
import { installRequestBridge } from "./server/request.ts";
import type { Handler, ServeInit, ServeOptions, Server } from "./types.ts";
import { clearTimeout, setTimeout } from "node:timers";

/** How long a graceful shutdown waits for in-flight requests before forcing. */
const GRACE_MS = 10_000;

/**
 * The adapter for the runtime this code runs on (Deno, Bun or Node), as the
 * package entry bound it (src/platform.ts); loaded on demand so that no
 * runtime's module is imported by another.
 *
 * @example
 * ```ts
 * import { defaultAdapter } from "portico";
 * console.log((await defaultAdapter()).name);
 * ```
 */
export function defaultAdapter(): Promise<SocketAdapter> {
  return platform().adapter();
}

function defaultOnError(error: unknown): Response {
  console.error("portico: handler error:", error);
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function normalise(a: ServeInit | ServeOptions | Handler, b?: ServeOptions | Handler): ServeInit {
  if (typeof a === "function") return { ...(b as ServeOptions | undefined), fetch: a };
  if (typeof b === "function") return { ...a, fetch: b };
  if (typeof (a as ServeInit).fetch !== "function") {
    throw new TypeError(
      "serve() needs a handler: serve({ fetch }), serve(handler, options) or serve(options, handler)",
    );
  }
  return a as ServeInit;
}

class PorticoServer implements Server {
  readonly finished: Promise<void>;
  readonly group: ResourceGroup;
  #core: ServerCore;
  #listener: Listener | null = null;
  #addr: NetAddr;
  #ref = true;
  #shutdown: Promise<void> | null = null;
  #resolveFinished!: () => void;
  #listening: Promise<void>;

  constructor(init: ServeInit) {
    const port = init.port ?? 8000;
    const hostname = init.hostname ?? "0.0.0.0";
    this.#addr = { transport: "tcp", hostname, port };
    this.group = new ResourceGroup({ name: "server" });
    const limits = {
      maxUrlBytes: init.limits?.maxUrlBytes ?? DEFAULT_LIMITS.maxUrlBytes,
      maxHeaderBytes: init.limits?.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes,
      maxBodyBytes: init.limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
      connectionBytes: init.limits?.connectionBytes ?? 1024 * 1024,
    };
    const timeouts = { ...DEFAULT_TIMEOUTS, ...init.timeouts };
    this.#core = new ServerCore(init.fetch, init.onError ?? defaultOnError, limits, timeouts, this.group);
    this.#core.maxConnections = init.limits?.maxConnections ?? Infinity;
    this.#core.overflow = init.limits?.atMaxConnections ?? "wait";
    if (init.tls) this.#core.scheme = "https://";
    let rejectFinished!: (e: unknown) => void;
    this.finished = new Promise<void>((resolve, reject) => {
      this.#resolveFinished = resolve;
      rejectFinished = reject;
    });
    // Immediate shutdown of the root group stops everything, including the listener.
    this.group.defer(() => this.#resolveFinished());

    this.#listening = this.#listen(init, port, hostname);
    this.#listening.catch((e) => {
      rejectFinished(e);
      void this.group.shutdown(e);
    });

    if (init.signal) {
      if (init.signal.aborted) void this.shutdown();
      else init.signal.addEventListener("abort", () => void this.shutdown(), { once: true });
    }
  }

  async #listen(init: ServeInit, port: number, hostname: string): Promise<void> {
    const adapter = init.adapter ?? await defaultAdapter();
    const listener = await adapter.listen(
      { port, hostname, reusePort: init.reusePort, backlog: init.backlog, tls: init.tls },
      (conn) => this.#core.accept(conn),
    );
    this.#listener = listener;
    this.group.adopt(listener);
    if (listener.pauseAccept && listener.resumeAccept) {
      this.#core.pauseAccept = () => listener.pauseAccept!();
      this.#core.resumeAccept = () => listener.resumeAccept!();
    }
    if (!this.#ref) listener.unref();
    this.#addr = listener.addr;
    const host = this.#core.defaultHost = formatHost(listener.addr);
    if (init.onListen) init.onListen(listener.addr);
    else console.log(`Listening on ${this.#core.scheme}${host}/`);
  }

  get addr(): NetAddr {
    return this.#addr;
  }

  shutdown(): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    this.#shutdown = (async () => {
      try {
        await this.#listening;
      } catch {
        return; // never listened: finished already rejected
      }
      await this.#listener?.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, GRACE_MS)));
      await Promise.race([this.#core.drain(), grace]);
      clearTimeout(timer);
      await this.group.shutdown();
    })();
    return this.#shutdown;
  }

  ref(): void {
    this.#ref = true;
    this.#listener?.ref();
    this.#core.setRef(true);
  }

  unref(): void {
    this.#ref = false;
    this.#listener?.unref();
    this.#core.setRef(false);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

function formatHost(addr: NetAddr): string {
  const h = addr.hostname === "0.0.0.0" || addr.hostname === "::" ? "localhost" : addr.hostname;
  return (h.includes(":") ? `[${h}]` : h) + ":" + addr.port;
}

/**
 * Serves HTTP/1.1 with `handler`, on Node, Deno or Bun. Three call forms,
 * as Deno's built-in `serve` and `@std/http` accept them.
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * const server = serve({ port: 8000, fetch: () => new Response("Hello, World!") });
 * // later
 * await server.shutdown();
 * ```
 */
export function serve(init: ServeInit): Server;
/** `serve(handler, options)`, the `@std/http` order. */
export function serve(handler: Handler, options?: ServeOptions): Server;
/** `serve(options, handler)`, the order of Deno's built-in `serve`. */
export function serve(options: ServeOptions, handler: Handler): Server;
export function serve(a: ServeInit | ServeOptions | Handler, b?: ServeOptions | Handler): Server {
  const init = normalise(a, b);
  if (init.lightResponse !== false) installLightResponse();
  installRequestBridge(); // new Request(req) and fetch(req) with the lazy request
  const server = new PorticoServer(init);
  if (workerId() !== null) stopOnSignal(server);
  return server;
}
