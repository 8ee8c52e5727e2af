/**
 * Content-Type from a file name, through the `mime` library (its database
 * follows IANA and mime-db, which a hand-written table would not).
 *
 * @module
 */

import { extname } from "node:path";

interface Mime {
  getType(ext: string): string | null;
}

// Loaded on first use rather than imported: under Deno, a program outside
// this project that imports src/mod.ts has no import map for the bare
// "mime", and must still be able to use everything but the file server.
// Where it cannot be imported, every file request fails with an error that
// says why and what to do (Deno said only `Import "mime" not a dependency`).
let mime: Promise<Mime> | null = null;
const loadMime = (): Promise<Mime> =>
  mime ??= import("mime").then((m) => m.default as Mime, (e) => {
    throw new Error(
      'portico: the file server needs the "mime" package, which cannot be imported here: under Deno, import ' +
        'portico from JSR or npm, or run with its deno.json (or add "mime": "npm:mime@^4" to your imports)',
      { cause: e },
    );
  });

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
 * await contentType("index.html"); // "text/html; charset=utf-8"
 * await contentType("logo.png"); // "image/png"
 * await contentType("Makefile"); // "application/octet-stream"
 * ```
 */
export async function contentType(name: string): Promise<string> {
  // Only the extension: `mime` would also take a bare "html" as one, typing
  // a file literally named "html" as a web page.
  const ext = extname(name);
  const type = ext === "" ? null : (await loadMime()).getType(ext.slice(1));
  if (type === null) return "application/octet-stream";
  return isTextual(type) ? `${type}; charset=utf-8` : type;
}

function isTextual(type: string): boolean {
  if (type.startsWith("text/") || TEXTUAL.has(type)) return true;
  return type.startsWith("application/") && (type.endsWith("+json") || type.endsWith("+xml"));
}
