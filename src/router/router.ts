/**
 * Router: method + pattern dispatch, params, 404/405/OPTIONS, HEAD → GET,
 * and `mount` for handlers that own a whole prefix (a static directory, a
 * Hono app, a servlet, another Router).
 *
 * @module
 */

import type { TcpAddr } from "../adapter.ts";
import { ResourceGroup } from "../groups/group.ts";
import { splitUrl } from "../http/url.ts";
import { knownBodySize } from "../server/light_response.ts";
import { requestWithUrl } from "../server/request.ts";
import type { Handler, ServeHandlerInfo } from "../types.ts";
import { type RouteEntry, RouteTrie } from "./trie.ts";

/** What a route handler gets besides the request. */
export interface RouteContext extends ServeHandlerInfo {
  /** Decoded values of the pattern's `:params` (and `*` for a trailing wildcard). */
  readonly params: Record<string, string>;
  /** The request URL, parsed once, on first use. */
  readonly url: URL;
  /**
   * The path prefixes stripped by the mounts this request went through,
   * joined ("" at the top). A mounted handler that writes absolute links
   * into its pages (a servlet's k-URLs) puts this in front.
   */
  readonly mountPath: string;
}

/** A route handler: a fetch handler that also gets the route's params. */
export type RouteHandler = (request: Request, ctx: RouteContext) => Response | Promise<Response>;

/** Something mountable: a fetch handler, or an object with one (a Hono app, a Router). */
export type Mountable = Handler | { fetch: Handler };

const NO_ADDR: TcpAddr = { transport: "tcp", hostname: "", port: 0 };

class Context implements RouteContext {
  readonly params: Record<string, string>;
  #request: Request;
  #info: ServeHandlerInfo | undefined;
  #url: URL | null = null;
  #group: ResourceGroup | null = null;

  constructor(request: Request, info: ServeHandlerInfo | undefined, params: Record<string, string>) {
    this.#request = request;
    this.#info = info;
    this.params = params;
  }

  get url(): URL {
    return this.#url ??= new URL(this.#request.url);
  }

  get mountPath(): string {
    return (this.#info as Partial<RouteContext> | undefined)?.mountPath ?? "";
  }

  get remoteAddr(): TcpAddr {
    return this.#info?.remoteAddr ?? NO_ADDR;
  }

  get completed(): Promise<void> {
    return this.#info?.completed ?? Promise.resolve();
  }

  get group(): ResourceGroup {
    // Outside portico's serve() there is no request group: make one that
    // closes when the request's signal aborts.
    if (this.#info?.group) return this.#info.group;
    if (this.#group === null) {
      const g = this.#group = ResourceGroup.current() ?? new ResourceGroup({ name: "request" });
      this.#request.signal.addEventListener("abort", () => void g.shutdown(), { once: true });
    }
    return this.#group;
  }
}

function decode(value: string): string | null {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

function allowed<T>(methods: Map<string, RouteEntry<T>>): string {
  const set = new Set<string>();
  if (methods.has("*")) return "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
  for (const m of methods.keys()) set.add(m);
  if (set.has("GET")) set.add("HEAD");
  set.add("OPTIONS");
  return [...set].join(", ");
}

/**
 * Dispatches requests by method and path pattern.
 *
 * Patterns have static segments, `:params` and a trailing `*`. A static
 * segment beats a param, and a param beats a wildcard, whatever the order of
 * registration. Unknown path → 404; known path, other method → 405 with
 * `Allow`; HEAD falls back to GET with the body dropped; OPTIONS → 204 with
 * `Allow` unless a route handles it.
 *
 * @example
 * ```ts
 * import { Router, serve } from "portico";
 * const router = new Router();
 * router.get("/hello", () => new Response("Hello, World!"));
 * router.get("/users/:id", (_req, ctx) => Response.json({ id: ctx.params.id }));
 * serve({ fetch: router.fetch });
 * ```
 */
export class Router {
  #trie: RouteTrie<RouteHandler> = new RouteTrie();

  /** Adds a route for `method` ("*" for any method). */
  on(method: string, pattern: string, handler: RouteHandler): this {
    this.#trie.add(method === "*" ? "*" : method.toUpperCase(), pattern, handler);
    return this;
  }

  /** Adds a GET route (HEAD falls back to it). */
  get(pattern: string, handler: RouteHandler): this {
    return this.on("GET", pattern, handler);
  }

  /** Adds a POST route. */
  post(pattern: string, handler: RouteHandler): this {
    return this.on("POST", pattern, handler);
  }

  /** Adds a PUT route. */
  put(pattern: string, handler: RouteHandler): this {
    return this.on("PUT", pattern, handler);
  }

  /** Adds a DELETE route. */
  delete(pattern: string, handler: RouteHandler): this {
    return this.on("DELETE", pattern, handler);
  }

  /** Adds a PATCH route. */
  patch(pattern: string, handler: RouteHandler): this {
    return this.on("PATCH", pattern, handler);
  }

  /** Adds a route for every method. */
  all(pattern: string, handler: RouteHandler): this {
    return this.on("*", pattern, handler);
  }

  /**
   * Hands everything under `prefix` to `target`, with the prefix stripped
   * from the URL the target sees: mounted at "/static", a request for
   * "/static/a.css" reaches the target as "/a.css". A GET or HEAD for the
   * bare prefix is redirected (308) to "/static/", so that relative links in
   * the target's pages resolve under the prefix.
   */
  mount(prefix: string, target: Mountable): this {
    const base = prefix.replace(/\/+$/, "");
    if (!base.startsWith("/")) throw new TypeError(`mount prefix must start with "/": ${prefix}`);
    const fetch = typeof target === "function" ? target : target.fetch.bind(target);
    const handler: RouteHandler = (request, ctx) => {
      // The URL is already in WHATWG form (portico's, or a platform
      // Request's): cut, not parsed.
      const url = request.url;
      const { origin, path } = splitUrl(url);
      const rest = url.slice(origin.length + path.length); // "?query", "#fragment", or ""
      if (path === base && (request.method === "GET" || request.method === "HEAD")) {
        // "/static" and "/static/" would look the same to the target, and
        // relative links in its pages would resolve against the wrong base.
        const hash = rest.indexOf("#");
        return new Response(null, {
          status: 308,
          headers: { location: base + "/" + (hash < 0 ? rest : rest.slice(0, hash)) },
        });
      }
      // portico's request under the inner URL, without a platform Request
      // (which cost 45–75 µs per request on Node, 20–30 on Deno, 10 on Bun).
      const inner = requestWithUrl(request, origin + (path.slice(base.length) || "/") + rest);
      return fetch(inner, new MountInfo(ctx, ctx.mountPath + base));
    };
    this.#trie.add("*", base + "/*", handler);
    return this;
  }

  /** The router as a fetch handler: `serve({ fetch: router.fetch })`, `app.mount("/x", router.fetch)`. */
  readonly fetch: Handler = (request, info) => this.#dispatch(request, info);

  #dispatch(request: Request, info: ServeHandlerInfo | undefined): Response | Promise<Response> {
    const method = request.method;
    const path = splitUrl(request.url).path;
    const found = this.#trie.match(path, (m) => m.has(method) || m.has("*") || (method === "HEAD" && m.has("GET")));
    if (found === null) {
      const any = this.#trie.match(path);
      if (any === null) return new Response("Not Found\n", { status: 404, headers: TEXT });
      const allow = allowed(any.methods);
      if (method === "OPTIONS") return new Response(null, { status: 204, headers: { allow } });
      return new Response("Method Not Allowed\n", { status: 405, headers: { ...TEXT, allow } });
    }
    const entry = found.methods.get(method) ?? found.methods.get("*") ?? found.methods.get("GET")!;
    const params: Record<string, string> = {};
    for (let i = 0; i < entry.names.length; i++) {
      const value = decode(found.values[i]);
      if (value === null) {
        return new Response(`Bad Request: malformed percent-encoding in ${found.values[i]}\n`, {
          status: 400,
          headers: TEXT,
        });
      }
      params[entry.names[i]] = value;
    }
    const result = entry.value(request, new Context(request, info, params));
    if (method === "HEAD" && !found.methods.has("HEAD") && !found.methods.has("*")) return dropBody(result);
    return result;
  }
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

// What a mounted handler gets as its info: the request's info plus the
// prefix stripped so far.
class MountInfo implements ServeHandlerInfo {
  readonly mountPath: string;
  #ctx: RouteContext;
  constructor(ctx: RouteContext, mountPath: string) {
    this.#ctx = ctx;
    this.mountPath = mountPath;
  }
  get remoteAddr(): TcpAddr {
    return this.#ctx.remoteAddr;
  }
  get completed(): Promise<void> {
    return this.#ctx.completed;
  }
  get group(): ResourceGroup {
    return this.#ctx.group;
  }
}

// HEAD through the GET handler: the GET answer's fields without its body,
// Content-Length included where the size is known without reading the
// body (RFC 9110 §9.3.2: the fields GET would send).
async function dropBody(result: Response | Promise<Response>): Promise<Response> {
  const r = await result;
  const length = knownBodySize(r); // before r.body, which would build the platform Response
  if (r.body === null) return r;
  void r.body.cancel().catch(() => {});
  const headers = new Headers(r.headers);
  if (length !== null && !headers.has("content-length")) headers.set("content-length", String(length));
  return new Response(null, { status: r.status, statusText: r.statusText, headers });
}
