/**
 * `serveFile`: one file as an HTTP response, with validators, conditional
 * requests, single byte ranges and HEAD, its body streamed from an open
 * file handle.
 *
 * @module
 */

import type { Stats } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { basename } from "node:path";
import { contentType } from "./content_type.ts";
import { type EtagMode, evaluatePreconditions, ifRangeMatches, type Validators, validators } from "./etag.ts";
import { parseRange, type RangeRequest } from "./range.ts";
import { methodNotAllowed, statusResponse } from "./responses.ts";
import { fileStream, type Owner, requestOwner } from "./stream.ts";

/** Options of {@link serveFile}. */
export interface ServeFileOptions {
  /** ETags: `true` or `"weak"` (default), `"strong"`, or `false` for none. Last-Modified is always sent. */
  etag?: EtagMode;
  /** The Content-Type to send; default: from the file name's extension. */
  contentType?: string;
}

/**
 * Answers `request` (GET or HEAD) with the file at `path`: 200, 206 for a
 * single satisfiable Range, 304 or 412 from the conditional fields, 416 for
 * an unsatisfiable Range, 404 when `path` is not a readable regular file,
 * 405 for other methods. `path` is trusted as given: to map URLs onto a
 * directory safely, use `serveDir`.
 *
 * Pass the handler's second argument as `info`: under portico the open file
 * is adopted into the request's resource group, so it is closed when the
 * client goes away even if nobody reads the body.
 *
 * @example
 * ```ts
 * import { serve, serveFile } from "portico";
 * serve({ fetch: (req, info) => serveFile(req, "./public/index.html", info) });
 * ```
 */
export async function serveFile(
  request: Request,
  path: string,
  info?: object,
  options: ServeFileOptions = {},
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed();
  const type = options.contentType ?? await contentType(basename(path));
  return sendFile(request, path, type, requestOwner(info), options.etag ?? true);
}

/**
 * The common part of `serveFile` and `serveDir`: answers a GET or HEAD for
 * the file at `path`, which the caller has already checked.
 *
 * @example
 * ```ts
 * import { sendFile } from "./serve_file.ts";
 * const response = await sendFile(new Request("http://x/"), "/srv/a.txt", "text/plain", null, true);
 * ```
 */
export async function sendFile(
  request: Request,
  path: string,
  type: string,
  owner: Owner | null,
  etag: EtagMode,
  checked?: Stats,
): Promise<Response> {
  let handle: FileHandle;
  try {
    // Checked before opening: opening a FIFO or a device can block or act.
    // `checked`: the caller's stat of `path`, a regular file (serveDir's).
    const known = checked ?? await stat(path);
    if (!known.isFile()) return statusResponse(404);
    // A 304 or 412 needs no body: answered from the path's stat, without
    // opening the file (three filesystem calls of six, each ~45 µs of CPU
    // on Node). A body is described by the file as it is open (below).
    const seen = validators(known.size, known.mtimeMs, etag);
    const early = evaluatePreconditions(request.headers, request.method, seen);
    if (early === "not-modified") return notModified(seen);
    if (early === "failed") return statusResponse(412);
    handle = await open(path, "r");
  } catch {
    return statusResponse(404);
  }
  let streaming = false;
  try {
    // Everything below describes the file that is open, not whatever the
    // path names by now.
    const st = await handle.stat();
    if (!st.isFile()) return statusResponse(404);
    const size = st.size;
    const v = validators(size, st.mtimeMs, etag);
    const headers = validatorFields(v);

    // Again for the file as it is open: it may have changed since.
    const precondition = evaluatePreconditions(request.headers, request.method, v);
    if (precondition === "not-modified") return notModified(v);
    if (precondition === "failed") return statusResponse(412);

    headers.set("content-type", type);
    headers.set("accept-ranges", "bytes");
    const range = selectRange(request, size, v);
    if (range.kind === "unsatisfiable") return statusResponse(416, { "content-range": `bytes */${size}` });

    let status = 200;
    let start = 0;
    let end = size - 1;
    if (range.kind === "range") {
      status = 206;
      start = range.start;
      end = range.end;
      headers.set("content-range", `bytes ${start}-${end}/${size}`);
    }
    const length = end - start + 1;
    headers.set("content-length", String(length));
    if (request.method === "HEAD" || length === 0) return new Response(null, { status, headers });
    const body = fileStream(handle, start, end, owner);
    streaming = true;
    return new Response(body, { status, headers });
  } catch {
    return statusResponse(404);
  } finally {
    if (!streaming) await handle.close().catch(() => {});
  }
}

function validatorFields(v: Validators): Headers {
  const headers = new Headers({ "last-modified": v.lastModified });
  if (v.etag !== null) headers.set("etag", v.etag);
  return headers;
}

function notModified(v: Validators): Response {
  return new Response(null, { status: 304, headers: validatorFields(v) });
}

// Range applies to GET only (RFC 9110 §14.2), and only while If-Range,
// when present, still names this version.
function selectRange(request: Request, size: number, v: Validators): RangeRequest {
  if (request.method !== "GET") return { kind: "none" };
  const range = parseRange(request.headers.get("range"), size);
  if (range.kind === "none") return range;
  const ifRange = request.headers.get("if-range");
  return ifRange !== null && !ifRangeMatches(ifRange, v) ? { kind: "none" } : range;
}
