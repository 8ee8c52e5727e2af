/**
 * `portico/static`: serving files. `serveDir` serves a directory tree with
 * safe path resolution, ETag/Last-Modified, ranges and optional listings;
 * `serveFile` answers one request with one file. Both are also on the root
 * entry; their option types are here.
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * import { serveDir } from "portico/static";
 * serve({ port: 8000, fetch: serveDir({ root: "./public", listing: true }) });
 * ```
 *
 * @module
 */
export { serveDir } from "./serve_dir.ts";
export type { Dotfiles, ServeDirOptions } from "./serve_dir.ts";
export { serveFile } from "./serve_file.ts";
export type { ServeFileOptions } from "./serve_file.ts";
export type { EtagMode } from "./etag.ts";
