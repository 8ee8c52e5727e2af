/**
 * Mapping a URL path onto a file under a root directory without ever
 * leaving that directory.
 *
 * Two independent layers, because each stops attacks the other cannot see:
 *
 * 1. The URL path is split on "/" *before* percent-decoding, and every
 *    segment is decoded exactly once. A decoded segment that is empty, ".",
 *    "..", or holds "/", "\\" or NUL (or ":" on Windows) is refused, so
 *    `%2e%2e`, `%2f`, `%5c`, `%00` and double encodings (`%252e` decodes to
 *    the harmless name "%2e") cannot turn into path syntax.
 * 2. The file's real location, symlinks resolved, must lie inside the
 *    root's real location. This is what stops a symlink that points out.
 *
 * A refusal never says why or where: callers answer a bare 404 or 403.
 *
 * @module
 */

import { realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

/** A URL path split into decoded, checked segments. */
export interface UrlPath {
  /** The decoded segments, each a plain file name. */
  readonly segments: string[];
  /** Whether the path ended with "/" (asks for a directory). */
  readonly trailingSlash: boolean;
}

/** Why a URL path was refused: 400 for malformed percent-encoding, 404 for anything else. */
export interface UrlPathError {
  /** The status to answer with. */
  readonly error: 400 | 404;
}

const WINDOWS = sep === "\\";

/**
 * Splits a URL pathname (as `new URL(...).pathname` gives it, still
 * percent-encoded) into decoded segments, refusing any segment that could
 * act as path syntax rather than a name.
 *
 * @example
 * ```ts
 * import { parseUrlPath } from "./path.ts";
 * parseUrlPath("/docs/a%20b.txt"); // { segments: ["docs", "a b.txt"], trailingSlash: false }
 * parseUrlPath("/..%2fetc/passwd"); // { error: 404 }
 * parseUrlPath("/%E0%A4%A"); // { error: 400 }
 * ```
 */
export function parseUrlPath(pathname: string): UrlPath | UrlPathError {
  if (pathname === "" || pathname === "/") return { segments: [], trailingSlash: pathname === "/" };
  if (pathname[0] !== "/") return { error: 404 };
  const trailingSlash = pathname.endsWith("/");
  const raw = pathname.slice(1, trailingSlash ? -1 : undefined).split("/");
  const segments: string[] = [];
  for (const part of raw) {
    let name: string;
    try {
      name = decodeURIComponent(part);
    } catch {
      return { error: 400 };
    }
    if (!isPlainName(name)) return { error: 404 };
    segments.push(name);
  }
  return { segments, trailingSlash };
}

/**
 * Whether `name` is a single, ordinary file name: not empty, not "." or
 * "..", and free of separators and NUL. On Windows, also free of ":" (drive
 * letters, alternate data streams) and of trailing dots and spaces, which
 * Windows strips and so would alias another name.
 *
 * @example
 * ```ts
 * import { isPlainName } from "./path.ts";
 * isPlainName("a.txt"); // true
 * isPlainName(".."); // false
 * isPlainName("a\\b"); // false
 * ```
 */
export function isPlainName(name: string): boolean {
  if (name === "" || name === "." || name === "..") return false;
  if (name.includes("/") || name.includes("\\") || name.includes("\0")) return false;
  if (WINDOWS && (name.includes(":") || /[. ]$/.test(name))) return false;
  return true;
}

/**
 * Whether `target` is `root` or lies below it. Both must be absolute and
 * normalised; no file system access.
 *
 * @example
 * ```ts
 * import { isInside } from "./path.ts";
 * isInside("/srv/www", "/srv/www/a.txt"); // true
 * isInside("/srv/www", "/srv/www-evil/a.txt"); // false
 * ```
 */
export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  if (rel === "") return true;
  return rel !== ".." && !rel.startsWith(".." + sep) && !isAbsolute(rel);
}

/**
 * Whether a path relative to the root has a segment that starts with "."
 * (a dot-file or a file inside a dot-directory).
 *
 * @example
 * ```ts
 * import { hasDotSegment } from "./path.ts";
 * hasDotSegment("public/.env"); // true
 * hasDotSegment("public/env"); // false
 * ```
 */
export function hasDotSegment(relativePath: string): boolean {
  return relativePath.split(/[\\/]/).some((s) => s.startsWith("."));
}

/**
 * Resolves `segments` below `realRoot` (the root's own real path) and
 * returns the real path of what they name, or null when it does not exist
 * or its real location, symlinks followed, is outside the root.
 *
 * What remains is a race no path check can close: someone who can write
 * inside the root could swap a checked directory for a symlink before the
 * file is opened. Serve only trees that untrusted users cannot write to.
 *
 * @example
 * ```ts
 * import { confine } from "./path.ts";
 * const file = await confine("/srv/www", ["docs", "a.txt"]); // "/srv/www/docs/a.txt" or null
 * ```
 */
export async function confine(realRoot: string, segments: readonly string[]): Promise<string | null> {
  const candidate = join(realRoot, ...segments);
  if (!isInside(realRoot, candidate)) return null;
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return null;
  }
  return isInside(realRoot, real) ? real : null;
}
