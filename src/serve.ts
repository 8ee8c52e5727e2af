/**
 * `serve()`: option normalisation for the three call forms, runtime
 * detection, and the Server object.
 *
 * @module
 */

import process from "node:process";
import type { Listener, ListenOptions, NetAddr, SocketAdapter, TcpAddr } from "./adapter.ts";
import { checkServeOptions, listen, listenOptions, requestedAddr, unixUrl } from "./listen_options.ts";
import { ResourceGroup } from "./groups/group.ts";
import { ServerCore } from "./server/core.ts";
import { resolveOptions } from "./server/options.ts";
import { stopOnSignal, workerId } from "./workers/worker.ts";
import { installLightResponse } from "./server/light_response.ts";
import { proxyProtocol } from "./proxy/protocol.ts";
import { trustForwarded } from "./proxy/trust.ts";
import { platform } from "./platform.ts";
import { timerCanWait } from "./timer.ts";
import { installRequestBridge } from "./server/request.ts";
import type { Handler, ServeInit, ServeOptions, Server } from "./types.ts";
import { clearTimeout, setTimeout } from "node:timers";

// new Request(req) and fetch(req) with the lazy request: installed when
// portico is imported, not when serve() runs, so that a subclass of Request
// declared in between (at the top of the module that calls serve(), or in a
// library imported after portico) extends the bridge. One declared before
// still extends the platform's own, which cannot take portico's request on
// Node and Deno.
installRequestBridge();

/**
 * The adapter for the runtime this code runs on (Deno, Bun or Node), as the
 * package entry bound it (src/platform.ts); loaded on demand so that no
 * runtime's module is imported by another.
 *
 * @example
 * ```ts
 * import { defaultAdapter } from "./serve.ts";
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
    // Deno.serve's object form names it `handler`.
    const named = typeof (a as { handler?: unknown } | null)?.handler === "function"
      ? " (Deno's `serve` names `handler` what portico calls `fetch`)"
      : "";
    throw new TypeError(
      `serve() needs a handler: serve({ fetch }), serve(handler, options) or serve(options, handler)${named}`,
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
  #ready: Promise<Server> | null = null;
  #url = "";
  #shutdownMs: number;

  constructor(init: ServeInit) {
    const target = listenOptions(init);
    this.#addr = requestedAddr(target);
    this.group = new ResourceGroup({ name: "server" });
    const options = resolveOptions(init);
    this.#shutdownMs = options.timeouts.shutdown;
    const fetch = init.trustProxy ? trustForwarded(init.fetch, init.trustProxy) : init.fetch; // src/proxy (helper cont)
    // The handler's type says TCP (ServeHandlerInfo's default); on a unix
    // socket it is called with the unix address, as its docs say.
    this.#core = new ServerCore(fetch as Handler<NetAddr>, init.onError ?? defaultOnError, options, this.group);
    let rejectFinished!: (e: unknown) => void;
    this.finished = new Promise<void>((resolve, reject) => {
      this.#resolveFinished = resolve;
      rejectFinished = reject;
    });
    // Immediate shutdown of the root group stops everything, including the listener.
    this.group.defer(() => this.#resolveFinished());
    // Sockets close at once, before the groups' finalisers run (which may
    // wait on tasks); `finished` settles when those are done, or after
    // `timeouts.shutdown` if one never settles.
    this.group.signal.addEventListener("abort", () => {
      this.#core.destroyAll();
      if (!timerCanWait(this.#shutdownMs)) return; // no bound: finished waits for the finalisers
      const t = setTimeout(() => this.#resolveFinished(), this.#shutdownMs);
      t.unref?.();
    }, { once: true });

    this.#listening = this.#listen(init, target);
    this.#listening.catch((e) => {
      rejectFinished(e);
      void this.group.shutdown(e);
      // Nobody asked through ready(): say it in one line and fail the
      // process's exit status, as the synchronous throw of Deno's and Bun's
      // servers would, but without a stack trace or an unhandled rejection.
      if (this.#ready === null) {
        console.error(e instanceof Error ? e.message : String(e));
        process.exitCode = 1;
      }
    });
    // `finished` rejects only for those who await it: the failure is
    // reported above or through ready(), never as an unhandled rejection.
    this.finished.catch(() => {});

    if (init.signal) {
      if (init.signal.aborted) void this.shutdown();
      else init.signal.addEventListener("abort", () => void this.shutdown(), { once: true });
    }
  }

  async #listen(init: ServeInit, target: ListenOptions): Promise<void> {
    const adapter = init.adapter ?? await defaultAdapter();
    const listener = await listen(
      adapter,
      target,
      init.proxyProtocol ? proxyProtocol((c) => this.#core.accept(c), this.group) : (conn) => this.#core.accept(conn),
    );
    this.#listener = listener;
    this.group.adopt(listener);
    const host = formatHost(listener.addr);
    const canPause = listener.pauseAccept !== undefined && listener.resumeAccept !== undefined;
    this.#core.listening({
      host,
      pauseAccept: canPause ? () => listener.pauseAccept!() : undefined,
      resumeAccept: canPause ? () => listener.resumeAccept!() : undefined,
    });
    if (!this.#ref) listener.unref();
    this.#addr = listener.addr;
    const scheme = this.#core.options.scheme;
    this.#url = listener.addr.transport === "unix" ? unixUrl(scheme, listener.addr.path) : `${scheme}${host}/`;
    // Stopped before it was bound (shutdown() or the signal right after
    // serve()): it no longer listens, so nothing says it does.
    if (this.group.closed || this.#shutdown !== null) return;
    if (init.onListen) init.onListen(listener.addr);
    else console.log(listeningLine(scheme, listener.addr, this.#url));
  }

  get addr(): NetAddr {
    return this.#addr;
  }

  get url(): string {
    return this.#url;
  }

  ready(): Promise<Server> {
    this.#ready ??= this.#listening.then(() => this as Server);
    return this.#ready;
  }

  shutdown(): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    this.#shutdown = (async () => {
      try {
        await this.#listening;
      } catch {
        return; // never listened: finished already rejected
      }
      // One bound for all of it: in-flight requests, then the groups'
      // finalisers. At the bound every socket is destroyed and shutdown()
      // resolves, even if a finaliser or task never settles.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<void>((r) => {
        // `Infinity` (or past what a timer can wait): no bound at all.
        if (timerCanWait(this.#shutdownMs)) timer = setTimeout(r, this.#shutdownMs);
      });
      await this.#listener?.close();
      await Promise.race([this.#core.shutdownGracefully(), bound]);
      await Promise.race([this.group.shutdown(), bound]);
      clearTimeout(timer);
      this.#resolveFinished();
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

// The default onListen line, as Deno's built-in server prints it: the address bound
// (IPv6 in brackets) and, for a wildcard address, the local URL to open.
function listeningLine(scheme: string, addr: NetAddr, url: string): string {
  if (addr.transport === "unix") return `Listening on ${url}`;
  const h = addr.hostname;
  const bound = `Listening on ${scheme}${h.includes(":") ? `[${h}]` : h}:${addr.port}/`;
  return h === "0.0.0.0" || h === "::" ? `${bound} (${scheme}localhost:${addr.port}/)` : bound;
}

function formatHost(addr: NetAddr): string {
  if (addr.transport === "unix") return "localhost"; // for request.url when a request has no Host
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
export function serve<A extends NetAddr = TcpAddr>(init: ServeInit<A>): Server;
/** `serve(handler, options)`, the `@std/http` order. */
export function serve<A extends NetAddr = TcpAddr>(handler: Handler<A>, options?: ServeOptions): Server;
/** `serve(options, handler)`, the order of Deno's built-in `serve`. */
export function serve<A extends NetAddr = TcpAddr>(options: ServeOptions, handler: Handler<A>): Server;
export function serve(a: ServeInit | ServeOptions | Handler, b?: ServeOptions | Handler): Server {
  const init = normalise(a, b);
  checkServeOptions(init);
  if (init.lightResponse !== false) installLightResponse();
  const server = new PorticoServer(init);
  if (workerId() !== null) stopOnSignal(server);
  return server;
}
