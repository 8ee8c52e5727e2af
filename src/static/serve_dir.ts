/**
 * `serveDir`: a fetch handler that serves a directory tree.
 *
 * The URL path is mapped onto the tree by `./path.ts`, which refuses
 * anything that could leave the root (see there); this module adds the
 * policies on top: dot-files, index files, the `/dir` → `/dir/` redirect
 * and optional listings.
 *
 * @module
 */

import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { contentType } from "./content_type.ts";
import type { EtagMode } from "./etag.ts";
import { readListing, renderListing } from "./listing.ts";
import { confine, hasDotSegment, parseUrlPath } from "./path.ts";
import { methodNotAllowed, statusResponse } from "./responses.ts";
import { sendFile } from "./serve_file.ts";
import { requestOwner } from "./stream.ts";

/** What to do with names starting with ".": serve them, answer 403 (`"deny"`), or 404 (`"ignore"`). */
export type Dotfiles = "allow" | "deny" | "ignore";

/** Options of {@link serveDir}. */
export interface ServeDirOptions {
  /** The directory to serve; relative to the working directory. */
  root: string;
  /** The file served for a directory URL (ending in "/"); `false` for none. Default `"index.html"`. */
  index?: string | false;
  /** List directories that have no index file. Default `false` (404). */
  listing?: boolean;
  /** ETags: `true` or `"weak"` (default), `"strong"`, or `false` for none. */
  etag?: EtagMode;
  /** Names starting with ".", anywhere in the path: default `"deny"` (403). */
  dotfiles?: Dotfiles;
  /**
   * A URL path prefix to strip before mapping, such as `"static"` for
   * URLs under `/static/`; other URLs get 404. Not needed under
   * `router.mount`, which strips its prefix itself.
   */
  urlRoot?: string;
}

/**
 * A fetch handler that serves the files under `options.root` for GET and
 * HEAD (405 otherwise), with Content-Type by extension, ETag and
 * Last-Modified (304 and 412 on conditional requests), single byte ranges
 * (206, 416), an index file per directory, and an optional HTML listing.
 * Bodies are streamed from the open file.
 *
 * No URL leaves the root: encoded or double-encoded dot segments, encoded
 * slashes and backslashes, NUL, absolute paths and symlinks whose target is
 * outside the root all get 404, and no answer mentions a server path.
 *
 * @example
 * ```ts
 * import { serve, serveDir } from "portico";
 * serve({ fetch: serveDir({ root: "./public", listing: true }) });
 * // or under a prefix: router.mount("/static", serveDir({ root: "./public" }))
 * ```
 */
export function serveDir(options: ServeDirOptions): (request: Request, info?: object) => Promise<Response> {
  const root = resolve(options.root);
  const index = options.index ?? "index.html";
  const listing = options.listing ?? false;
  const etag = options.etag ?? true;
  const dotfiles = options.dotfiles ?? "deny";
  const prefix = normalisePrefix(options.urlRoot);
  let realRoot: Promise<string> | null = null;

  // The root's real path, once it exists: it is what every file's real
  // path is compared against.
  const getRoot = async (): Promise<string | null> => {
    realRoot ??= realpath(root);
    try {
      return await realRoot;
    } catch {
      realRoot = null;
      return null;
    }
  };

  const refuseDot = (): Response => statusResponse(dotfiles === "deny" ? 403 : 404);

  return async (request: Request, info?: object): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed();
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return statusResponse(400);
    }
    let pathname = url.pathname;
    if (prefix !== "") {
      if (pathname !== prefix && !pathname.startsWith(prefix + "/")) return statusResponse(404);
      pathname = pathname.slice(prefix.length);
    }
    const parsed = parseUrlPath(pathname);
    if ("error" in parsed) return statusResponse(parsed.error);
    const { segments, trailingSlash } = parsed;
    if (dotfiles !== "allow" && segments.some((s) => s.startsWith("."))) return refuseDot();

    const base = await getRoot();
    if (base === null) return statusResponse(404);
    const real = await confine(base, segments);
    if (real === null) return statusResponse(404);
    // A link with an ordinary name may still lead to a dot-file.
    if (dotfiles !== "allow" && hasDotSegment(relative(base, real))) return refuseDot();
    let st: Stats;
    try {
      st = await stat(real);
    } catch {
      return statusResponse(404);
    }
    const owner = requestOwner(info);

    if (st.isFile()) {
      if (trailingSlash) return statusResponse(404);
      return sendFile(request, real, await contentType(segments[segments.length - 1]), owner, etag, st);
    }
    if (!st.isDirectory()) return statusResponse(404);
    if (!trailingSlash) {
      // Relative, so it stays right under any mount prefix and can never
      // point at another host ("//evil.example/").
      const last = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
      return new Response(null, { status: 301, headers: { location: `./${last}/${url.search}` } });
    }
    if (index !== false) {
      const file = await confine(base, [...segments, index]);
      if (file !== null && !(dotfiles !== "allow" && hasDotSegment(relative(base, file)))) {
        const st = await stat(file).catch(() => null);
        if (st?.isFile()) return sendFile(request, file, await contentType(index), owner, etag, st);
      }
    }
    if (!listing) return statusResponse(404);
    let page: Uint8Array<ArrayBuffer>;
    try {
      const entries = await readListing(real, dotfiles === "allow");
      // Under router.mount, the heading shows the path the browser sees.
      const mounted = (info as { mountPath?: unknown } | undefined)?.mountPath;
      const title = displayPath((typeof mounted === "string" ? mounted : "") + url.pathname);
      page = new TextEncoder().encode(renderListing(title, entries, segments.length > 0));
    } catch {
      return statusResponse(404);
    }
    const headers = { "content-type": "text/html; charset=utf-8", "content-length": String(page.byteLength) };
    return new Response(request.method === "HEAD" ? null : page, { headers });
  };
}

// "/static/", "static" and "/static" all mean the prefix "/static".
function normalisePrefix(urlRoot: string | undefined): string {
  const trimmed = (urlRoot ?? "").replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : "/" + trimmed;
}

function displayPath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}
