/**
 * The short plain-text answers of the static file handlers. Their bodies
 * are fixed strings: nothing from the request or the file system ends up in
 * them, so an error can never echo a server path.
 *
 * @module
 */

import { reasonPhrase } from "../http/response.ts";

/** The methods the static handlers answer; everything else gets 405 with this as `Allow`. */
export const ALLOWED_METHODS = "GET, HEAD";

/**
 * A plain-text response whose body is the status's reason phrase.
 *
 * @example
 * ```ts
 * import { statusResponse } from "./responses.ts";
 * statusResponse(404); // 404, "Not Found\n"
 * statusResponse(405, { allow: "GET, HEAD" });
 * ```
 */
export function statusResponse(status: number, headers: Record<string, string> = {}): Response {
  return new Response(`${reasonPhrase(status) || "Error"}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/**
 * The 405 answer for a method other than GET and HEAD.
 *
 * @example
 * ```ts
 * import { methodNotAllowed } from "./responses.ts";
 * methodNotAllowed().headers.get("allow"); // "GET, HEAD"
 * ```
 */
export function methodNotAllowed(): Response {
  return statusResponse(405, { allow: ALLOWED_METHODS });
}
