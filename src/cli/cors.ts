/**
 * `--cors`: every origin may read what the file server serves, as with
 * `file-server --cors` and `serve --cors`.
 *
 * @module
 */

/** A fetch handler with some `info` argument. */
export type FetchHandler<I> = (request: Request, info: I) => Response | Promise<Response>;

const ALLOW_HEADERS = "Origin, X-Requested-With, Content-Type, Accept, Range";

/**
 * Wraps a handler: its answers allow every origin (and expose the headers a
 * ranged or cached download needs), and a preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) gets 204 with the methods a file server
 * answers.
 *
 * @example
 * ```ts
 * import { withCors } from "./cors.ts";
 * const handler = withCors(() => new Response("hi"));
 * ```
 */
export function withCors<I>(handler: FetchHandler<I>): (request: Request, info: I) => Promise<Response> {
  return async (request, info) => {
    if (request.method === "OPTIONS" && request.headers.has("access-control-request-method")) {
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": "*",
          "access-control-allow-methods": "GET, HEAD, OPTIONS",
          "access-control-allow-headers": ALLOW_HEADERS,
          "access-control-max-age": "86400",
        },
      });
    }
    const response = await handler(request, info);
    // On the response itself where its headers take changes: a copy would
    // stream a string body (the 404 page), whose size the log then lost.
    try {
      addCors(response.headers);
      return response;
    } catch {
      const headers = new Headers(response.headers); // immutable (a redirect's)
      addCors(headers);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }
  };
}

function addCors(headers: Headers): void {
  headers.set("access-control-allow-origin", "*");
  headers.set("access-control-allow-headers", ALLOW_HEADERS);
  headers.set("access-control-expose-headers", "Content-Length, Content-Range, ETag, Last-Modified, Accept-Ranges");
}
