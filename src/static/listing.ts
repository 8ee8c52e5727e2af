/**
 * Directory listings as HTML.
 *
 * File names are untrusted input (anyone who can upload can pick them), so
 * every name is escaped as text and percent-encoded as a link. Links are
 * relative, so a listing works wherever the handler is mounted.
 *
 * @module
 */

import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isPlainName } from "./path.ts";

/** One entry of a listing. */
export interface ListingEntry {
  /** The file name. */
  readonly name: string;
  /** Whether it is (or links to) a directory. */
  readonly directory: boolean;
  /** Size in bytes, or null when it could not be read (a dangling link). */
  readonly size: number | null;
  /** Modification time, or null when it could not be read. */
  readonly modified: Date | null;
}

/**
 * Reads the entries of `dir`, directories first, then by name; names
 * starting with "." are left out unless `dotfiles` is true, and so are
 * names that a request cannot reach (a backslash in them, say), which
 * would be links to a 404.
 *
 * @example
 * ```ts
 * import { readListing } from "./listing.ts";
 * const entries = await readListing("/srv/www/docs", false);
 * ```
 */
export async function readListing(dir: string, dotfiles: boolean): Promise<ListingEntry[]> {
  const names = (await readdir(dir)).filter((name) => (dotfiles || !name.startsWith(".")) && isPlainName(name));
  const entries = await Promise.all(names.map(async (name): Promise<ListingEntry> => {
    try {
      // stat, not lstat: a link is listed as what it leads to.
      const st = await stat(join(dir, name));
      return { name, directory: st.isDirectory(), size: st.isDirectory() ? null : st.size, modified: st.mtime };
    } catch {
      return { name, directory: false, size: null, modified: null };
    }
  }));
  return entries.sort((a, b) =>
    a.directory !== b.directory ? (a.directory ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  );
}

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./listing.ts";
 * escapeHtml(`<a href="x">'&'</a>`); // "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * The HTML page listing `entries` under the heading `title` (the decoded
 * URL path), with a link to the parent unless `parent` is false.
 *
 * @example
 * ```ts
 * import { renderListing } from "./listing.ts";
 * const page = renderListing("/docs/", [{ name: "a.txt", directory: false, size: 3, modified: null }], true);
 * ```
 */
export function renderListing(title: string, entries: readonly ListingEntry[], parent: boolean): string {
  const rows: string[] = [];
  if (parent) rows.push(`<tr><td><a href="../">../</a></td><td></td><td></td></tr>`);
  for (const e of entries) {
    const label = e.name + (e.directory ? "/" : "");
    // "./" keeps a name like "a:b" from being read as a URL scheme.
    const href = "./" + encodeURIComponent(e.name) + (e.directory ? "/" : "");
    const size = e.size === null ? "" : String(e.size);
    const modified = e.modified === null ? "" : e.modified.toISOString().replace("T", " ").slice(0, 19);
    rows.push(
      `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td>` +
        `<td class="size">${size}</td><td>${modified}</td></tr>`,
    );
  }
  const heading = escapeHtml(title);
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Index of ${heading}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.15em 1.5em .15em 0}.size{text-align:right}</style>
</head><body>
<h1>Index of ${heading}</h1>
<table>
${rows.join("\n")}
</table>
</body></html>
`;
}
