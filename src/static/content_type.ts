/**
 * Content-Type from a file name, through the `mime` library (its database
 * follows IANA and mime-db, which a hand-written table would not).
 *
 * @module
 */

import mime from "mime";
import { extname } from "node:path";

// Types that are text without a `text/` prefix: without a charset,
// browsers guess one, and may guess wrong.
const TEXTUAL = new Set(["application/json", "application/javascript", "application/xml", "application/x-sh"]);

/**
 * The Content-Type for a file named `name`: its type by extension, with
 * `; charset=utf-8` for text, or `application/octet-stream` when the
 * extension is missing or unknown.
 *
 * @example
 * ```ts
 * import { contentType } from "./content_type.ts";
 * contentType("index.html"); // "text/html; charset=utf-8"
 * contentType("logo.png"); // "image/png"
 * contentType("Makefile"); // "application/octet-stream"
 * ```
 */
export function contentType(name: string): string {
  // Only the extension: `mime` would also take a bare "html" as one, typing
  // a file literally named "html" as a web page.
  const ext = extname(name);
  const type = ext === "" ? null : mime.getType(ext.slice(1));
  if (type === null) return "application/octet-stream";
  return isTextual(type) ? `${type}; charset=utf-8` : type;
}

function isTextual(type: string): boolean {
  if (type.startsWith("text/") || TEXTUAL.has(type)) return true;
  return type.startsWith("application/") && (type.endsWith("+json") || type.endsWith("+xml"));
}
