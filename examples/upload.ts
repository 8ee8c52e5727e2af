/**
 * File uploads into one directory, streamed to disk:
 *
 *   node dist/examples/upload.js ./uploads             (after `npm run build`)
 *   deno run -A examples/upload.ts ./uploads
 *   bun examples/upload.ts ./uploads
 *
 *   GET  /                    a page with an upload form
 *   POST /upload?name=a.txt   the request body is the file
 *   POST /upload              multipart/form-data: the first part with a filename is the file
 *   GET  /files/...           the uploaded files (serveDir, with a listing)
 *
 * Options: --port <n> (default: env PORT, else 8000), --host <name>
 * (default 127.0.0.1), --max-bytes <n> (default 10 MiB: the largest file
 * accepted; a form's body may be 64 KiB larger, for what it sends around it).
 *
 * What it takes care of:
 * - The file name is reduced to one harmless name: no directories, no
 *   leading dots, no NUL or control characters, nothing Windows reserves.
 * - The body is written as it arrives, never held whole in memory, into a
 *   hidden temporary file that becomes visible under its name (without
 *   replacing an existing file) only once complete.
 * - The size limit is checked as bytes arrive, so a chunked body of
 *   unannounced size is stopped too: 413, and the partial file is removed.
 *   So it is when the client goes away mid-upload.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { type FileHandle, link, mkdir, open, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { HttpError, serve, type ServeHandlerInfo } from "portico";
import { serveDir } from "portico/static";

const usage = "usage: upload <dir> [--port n] [--host name] [--max-bytes n]";
let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      "max-bytes": { type: "string", default: String(10 * 1024 * 1024) },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const dir = resolve(positionals[0]);
const maxBytes = Number(values["max-bytes"]);
const port = Number(values.port ?? process.env.PORT ?? 8000);
if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || !Number.isInteger(port)) {
  console.error(usage);
  process.exit(2);
}
await mkdir(dir, { recursive: true });

const files = serveDir({ root: dir, urlRoot: "files", listing: true });

// ---------------------------------------------------------------- file names

const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const MAX_NAME_BYTES = 200;

/**
 * One safe file name from what the client sent, or null if nothing usable
 * is left: only the last path component, control characters dropped,
 * characters that mean something to a shell or a file system replaced, no
 * leading dots (no hidden files, no "..") or trailing dots and spaces.
 */
function sanitiseName(raw: string): string | null {
  // deno-lint-ignore no-control-regex
  let name = raw.normalize("NFC").replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
  name = name.slice(Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\")) + 1);
  name = name.replace(/[^\p{L}\p{N}\p{M} ._()+,=@-]/gu, "_");
  name = name.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  if (name.length > MAX_NAME_BYTES) name = Array.from(name).slice(0, MAX_NAME_BYTES).join("");
  const encoder = new TextEncoder();
  while (encoder.encode(name).byteLength > MAX_NAME_BYTES) name = Array.from(name).slice(0, -1).join("");
  if (name === "") return null;
  return RESERVED.test(name) ? `_${name}` : name;
}

// ---------------------------------------------------------------- writing

/**
 * A file being written: a hidden temporary file in the target directory,
 * published under its final name by `commit()`, removed by `discard()`.
 * Adopted into the request's group, so a connection that dies mid-upload
 * still gets its partial file removed.
 */
class Upload {
  #handle: FileHandle;
  #temp: string;
  #done = false;
  bytes = 0;

  private constructor(handle: FileHandle, temp: string) {
    this.#handle = handle;
    this.#temp = temp;
  }

  static async create(info: ServeHandlerInfo): Promise<Upload> {
    const temp = join(dir, `.upload-${randomUUID()}.part`);
    const upload = new Upload(await open(temp, "wx"), temp);
    info.group.adopt({ close: () => upload.discard() });
    return upload;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.byteLength;
    await this.#handle.write(chunk);
  }

  /** Publishes the file as `name`; false if that name is taken. */
  async commit(name: string): Promise<boolean> {
    this.#done = true;
    await this.#handle.close();
    try {
      // link() fails when the name exists: no upload replaces another.
      await link(this.#temp, join(dir, name));
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === "EEXIST") return false;
      throw error;
    } finally {
      await unlink(this.#temp).catch(() => {});
    }
  }

  async discard(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#handle.close().catch(() => {});
    await unlink(this.#temp).catch(() => {});
  }
}

/**
 * Room for what a form sends around its file (delimiters, part headers,
 * other fields): a form's body may be this much larger than the file.
 */
const FRAMING = 64 * 1024;

/** The body's chunks, failing with a 413 as soon as more than `limit` bytes arrived. */
async function* limited(body: ReadableStream<Uint8Array>, limit: number): AsyncGenerator<Uint8Array> {
  let received = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      received += value.byteLength;
      if (received > limit) throw tooLarge();
      yield value;
    }
  } finally {
    // Stop reading: the server discards or drops the rest.
    reader.cancel().catch(() => {});
  }
}

// ---------------------------------------------------------------- multipart

/**
 * A streaming multipart/form-data parser (RFC 7578): `push` takes the next
 * chunk and returns what it completed, so a part's data can be written out
 * while the rest is still arriving. Only a delimiter-length tail is ever
 * kept back.
 */
type PartEvent =
  | { type: "part"; name: string | null; filename: string | null }
  | { type: "data"; bytes: Uint8Array }
  | { type: "end" };

class MultipartParser {
  #delimiter: Uint8Array;
  // The CRLF that precedes every delimiter is supplied for the first one too.
  #buf: Uint8Array = new Uint8Array([13, 10]);
  #state: "preamble" | "after-delimiter" | "headers" | "body" | "done" = "preamble";

  constructor(boundary: string) {
    this.#delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
  }

  get done(): boolean {
    return this.#state === "done";
  }

  push(chunk: Uint8Array): PartEvent[] {
    const joined = new Uint8Array(this.#buf.byteLength + chunk.byteLength);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.byteLength);
    let buf = joined;
    const events: PartEvent[] = [];
    const keep = this.#delimiter.byteLength - 1;
    for (;;) {
      if (this.#state === "preamble" || this.#state === "body") {
        const at = indexOf(buf, this.#delimiter);
        if (at < 0) {
          const safe = Math.max(0, buf.byteLength - keep);
          if (this.#state === "body" && safe > 0) events.push({ type: "data", bytes: buf.subarray(0, safe) });
          buf = buf.subarray(safe);
          break;
        }
        if (this.#state === "body" && at > 0) events.push({ type: "data", bytes: buf.subarray(0, at) });
        buf = buf.subarray(at + this.#delimiter.byteLength);
        this.#state = "after-delimiter";
      } else if (this.#state === "after-delimiter") {
        let i = 0;
        while (i < buf.byteLength && (buf[i] === 32 || buf[i] === 9)) i++; // transport padding
        if (buf.byteLength < i + 2) break;
        if (buf[i] === 45 && buf[i + 1] === 45) {
          this.#state = "done";
          events.push({ type: "end" });
          buf = new Uint8Array(0);
          break;
        }
        if (buf[i] !== 13 || buf[i + 1] !== 10) throw new HttpError(400, "malformed multipart delimiter");
        buf = buf.subarray(i + 2);
        this.#state = "headers";
      } else if (this.#state === "headers") {
        const end = buf[0] === 13 && buf[1] === 10 ? 0 : indexOf(buf, CRLFCRLF);
        if (end < 0) {
          if (buf.byteLength > 16 * 1024) throw new HttpError(400, "multipart part headers too large");
          break;
        }
        const text = new TextDecoder().decode(buf.subarray(0, end));
        buf = buf.subarray(end === 0 ? 2 : end + 4);
        events.push({ type: "part", ...disposition(text) });
        this.#state = "body";
      } else {
        buf = new Uint8Array(0); // the epilogue is ignored
        break;
      }
    }
    this.#buf = buf.slice();
    return events;
  }
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  const last = haystack.byteLength - needle.byteLength;
  for (let i = haystack.indexOf(first); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.byteLength && haystack[i + j] === needle[j]) j++;
    if (j === needle.byteLength) return i;
  }
  return -1;
}

/** The `name` and `filename` of a part's Content-Disposition (`filename*` preferred). */
function disposition(headers: string): { name: string | null; filename: string | null } {
  const line = headers.split("\r\n").find((l) => /^content-disposition\s*:/i.test(l));
  if (line === undefined) return { name: null, filename: null };
  const params = new Map<string, string>();
  for (const m of line.matchAll(/;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g)) {
    let value = m[2].trim();
    // curl escapes `"` and `\` with a backslash; any other backslash is the name's own.
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(["\\])/g, "$1");
    // Browsers send `"`, CR and LF in a name as %22, %0D and %0A (WHATWG HTML).
    if (m[1].toLowerCase() !== "filename*") {
      value = value.replace(/%(22|0D|0A)/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    }
    params.set(m[1].toLowerCase(), value);
  }
  let filename = params.get("filename") ?? null;
  const extended = /^utf-8'[^']*'(.*)$/i.exec(params.get("filename*") ?? "");
  if (extended) {
    try {
      filename = decodeURIComponent(extended[1]);
    } catch {
      // keep the plain filename
    }
  }
  return { name: params.get("name") ?? null, filename };
}

function boundaryOf(type: string): string | null {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(type);
  return m ? (m[1] ?? m[2]) : null;
}

// ---------------------------------------------------------------- handlers

async function receive(request: Request, info: ServeHandlerInfo): Promise<Response> {
  const type = request.headers.get("content-type") ?? "";
  const multipart = /^multipart\/form-data\s*(;|$)/i.test(type);
  // A raw body is the file; a form's file is counted as it is written.
  const limit = multipart ? maxBytes + FRAMING : maxBytes;
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (request.body === null) return text(400, "empty upload\n");
  let name: string | null = null;
  if (!multipart) {
    name = sanitiseName(new URL(request.url).searchParams.get("name") ?? "");
    if (name === null) return text(400, "a file name is needed: POST /upload?name=<file name>\n");
  }
  const upload = await Upload.create(info);
  try {
    if (multipart) name = await receiveMultipart(request.body, type, upload, limit);
    else for await (const chunk of limited(request.body, limit)) await upload.write(chunk);
    if (!(await upload.commit(name!))) return text(409, `${name} exists already\n`);
  } catch (error) {
    await upload.discard();
    // A 400 or 413 of ours: the server answers it (status, headers, message).
    if (error instanceof HttpError) throw error;
    // The client went away: nobody will read an answer, and it is no server error.
    if (info.group.closed || request.signal.aborted) return text(400, "upload aborted\n");
    throw error;
  }
  const url = `/files/${encodeURIComponent(name!)}`;
  return Response.json({ name, bytes: upload.bytes, url }, { status: 201, headers: { location: url } });
}

/** Writes the first file part of a multipart body into `upload`; returns its sanitised name. */
async function receiveMultipart(
  body: ReadableStream<Uint8Array>,
  type: string,
  upload: Upload,
  limit: number,
): Promise<string> {
  const boundary = boundaryOf(type);
  if (boundary === null) throw new HttpError(400, "multipart/form-data without a boundary");
  const parser = new MultipartParser(boundary);
  let name: string | null = null;
  let state: "before" | "writing" | "after" = "before";
  for await (const chunk of limited(body, limit)) {
    for (const event of parser.push(chunk)) {
      if (event.type === "part") {
        if (state === "writing") state = "after";
        // A browser sends an empty filename for a file input left empty.
        if (state === "before" && event.filename !== null && event.filename !== "") {
          name = sanitiseName(event.filename);
          if (name === null) throw new HttpError(400, "the file has no usable name");
          state = "writing";
        }
      } else if (event.type === "data" && state === "writing") {
        if (upload.bytes + event.bytes.byteLength > maxBytes) throw tooLarge();
        await upload.write(event.bytes);
      }
    }
  }
  if (!parser.done) throw new HttpError(400, "the multipart body ended early");
  if (name === null) throw new HttpError(400, "no file in the form");
  return name;
}

function tooLarge(): HttpError {
  // The rest of the body is not wanted: close rather than drain it.
  return new HttpError(413, `the upload is larger than ${maxBytes} bytes`, { headers: { connection: "close" } });
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>upload</title></head><body>
<h1>Upload a file</h1>
<form action="/upload" method="post" enctype="multipart/form-data">
  <input type="file" name="file" required> <button>Upload</button>
</form>
<p>At most ${maxBytes} bytes. See <a href="/files/">the uploaded files</a>.</p>
<p>Or: <code>curl --data-binary @file.bin 'http://localhost:${port}/upload?name=file.bin'</code></p>
</body></html>
`;

const server = serve({
  port,
  hostname: values.host,
  // Well above the handler's own limits, so that its 413, which names the
  // size the page shows, answers any upload the server's would refuse at
  // once (100 MiB, the default, or room for the largest upload).
  limits: { maxBodyBytes: Math.max(100 * 1024 * 1024, maxBytes + 2 * FRAMING) },
  fetch(request, info) {
    const path = new URL(request.url).pathname;
    if (path === "/upload") {
      if (request.method !== "POST") return text(405, "POST a file here\n", { allow: "POST" });
      return receive(request, info);
    }
    if (path === "/" && (request.method === "GET" || request.method === "HEAD")) {
      return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (path === "/files" || path.startsWith("/files/")) return files(request, info);
    return text(404, "Not Found\n");
  },
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.shutdown().then(() => process.exit(0), () => process.exit(1));
  });
}
