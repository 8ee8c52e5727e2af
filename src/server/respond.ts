/**
 * Writing a Fetch `Response` to a connection.
 *
 * A body of known size goes out with Content-Length, in the same write as
 * the head when it is one chunk. A body of unknown size is probed: if the
 * stream ends after its first chunk it is still sent with Content-Length;
 * otherwise it is sent chunked (HTTP/1.1) or delimited by closing the
 * connection (HTTP/1.0). Streaming respects backpressure: the next chunk is
 * read only once the socket has room.
 *
 * @module
 */

import {
  connectionField,
  encodeAscii,
  encodeChunk,
  encodeHead,
  isBodiless,
  lastChunk,
  type ResponseFraming,
  serializeHead,
} from "../http/response.ts";
import { joinShared } from "../http/bytes.ts";
import { platform } from "../platform.ts";
import { headerFields, knownBodySize, RESPONSE_PARTS, type ResponseParts } from "./light_response.ts";
import { staticBody } from "./static_body.ts";

const encoder = new TextEncoder();

/**
 * Where a response is written: the connection, seen only as far as the
 * writer needs it.
 */
export interface ResponseSink {
  /** Queues bytes; false when the socket is above its high-water mark (then `waitWritable()`). */
  write(chunk: Uint8Array): boolean;
  /** Holds writes until `uncork()` (a no-op where the adapter cannot). */
  cork(): void;
  /** Sends what `cork()` held. */
  uncork(): void;
  /** True once the socket is gone: stop writing and cancel the body. */
  readonly closed: boolean;
  /** Resolves when the socket can take more, or is gone. */
  waitWritable(): Promise<void>;
  /**
   * Sets (or clears, with null) what to do when the client goes away
   * (its FIN or the socket's close) while a body is being written: the
   * writer cancels the body at once, as Deno's and Bun's servers do.
   */
  onGone(fn: ((reason: unknown) => void) | null): void;
}

/** What the writer needs to know of the request it answers. */
export interface RespondingTo {
  /** The request method (HEAD: no body). */
  readonly method: string;
  /** 0 for HTTP/1.0 (no chunked coding), 1 for HTTP/1.1. */
  readonly versionMinor: number;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("response body chunks must be Uint8Array, ArrayBuffer or string");
}

const CLOSE = /(?:^|,)\s*close\s*(?:,|$)/i;

function wantsClose(headers: Headers): boolean {
  const c = headers.get("connection");
  return c !== null && CLOSE.test(c);
}

// Bodies up to this size share one buffer with the head; larger ones are
// written beside it (corked where the adapter can) rather than copied.
const COPY_LIMIT = 16 * 1024;

/**
 * Whole bodies above this go out a slice at a time, each once the socket
 * has taken the one before: `timeouts.send` then bounds a slice, as it
 * bounds each chunk of a stream, not the whole body. Written in one piece, a
 * 20 MiB body to a client reading 300 KB/s would be cut at the send deadline
 * however steadily the client read.
 */
const SLICE = 1024 * 1024;

/** Writes a head and a body larger than {@link SLICE}; resolves with `keepAlive` once the socket has taken the body. */
async function writeSliced(sink: ResponseSink, head: string, body: Uint8Array, keepAlive: boolean): Promise<boolean> {
  sink.write(encodeHead(head));
  await writeSlices(sink, body);
  return keepAlive;
}

/** Writes `bytes` a {@link SLICE} at a time, each once the socket has taken the one before (or until it is gone). */
async function writeSlices(sink: ResponseSink, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength && !sink.closed; at += SLICE) {
    if (!sink.write(bytes.subarray(at, at + SLICE))) await sink.waitWritable();
  }
}

const CRLF = new Uint8Array([0x0d, 0x0a]);

/** One large chunk of a stream (one that enqueues a whole buffer): in slices, as a whole body is. */
async function writeLargeChunk(sink: ResponseSink, bytes: Uint8Array, chunked: boolean): Promise<void> {
  if (chunked) sink.write(encodeHead(bytes.byteLength.toString(16) + "\r\n"));
  await writeSlices(sink, bytes);
  if (chunked && !sink.write(CRLF)) await sink.waitWritable();
}

// Returns whether the socket took it all below its high-water mark.
function writeWhole(sink: ResponseSink, head: string, body: Uint8Array | null): boolean {
  if (body === null || body.byteLength === 0) return sink.write(encodeHead(head));
  if (body.byteLength <= COPY_LIMIT) return sink.write(encodeHead(head, body));
  sink.cork();
  sink.write(encodeHead(head));
  const room = sink.write(body);
  sink.uncork();
  return room;
}

// A LightResponse: everything is at hand, nothing is built.
function writeParts(
  sink: ResponseSink,
  req: RespondingTo,
  parts: ResponseParts,
  keepAlive: boolean,
): boolean | Promise<boolean> {
  const { status, headers } = parts;
  const bodiless = isBodiless(status, req.method);
  const source = parts.body;
  const fixed = parts.fixed;
  if (fixed !== null && typeof source === "string" && !bodiless && source.length <= COPY_LIMIT) {
    // Constant fields (no Connection, no Content-Length among them): a head
    // encoded once a second, then the length and the body (fixed_head.ts).
    const wire = fixed.encode(status, parts.statusText, source, connectionField(keepAlive, req.versionMinor));
    if (wire !== null) {
      sink.write(wire);
      return keepAlive;
    }
  }
  let declared: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i][0];
    if (name === "connection") {
      if (CLOSE.test(headers[i][1])) keepAlive = false;
    } else if (name === "content-length") declared = headers[i][1];
  }
  const connection = connectionField(keepAlive, req.versionMinor);
  if (typeof source === "string" && !bodiless && source.length <= COPY_LIMIT) {
    // Assume ASCII: then the string's length is its size, and head and
    // body are encoded once, into one buffer. Anything else is encoded below.
    LENGTH.length = source.length;
    const wire = encodeAscii(serializeHead(status, parts.statusText, headers, LENGTH, connection) + source);
    if (wire !== null) {
      sink.write(wire);
      return keepAlive;
    }
  }
  const body = source === null ? null : typeof source === "string" ? encoder.encode(source) : source;
  const length = body === null ? 0 : body.byteLength;
  const framing: ResponseFraming = bodiless
    ? { kind: "none", announce: body === null ? declared : String(length) }
    : { kind: "length", length };
  const head = serializeHead(status, parts.statusText, headers, framing, connection);
  if (!bodiless && length > SLICE) return writeSliced(sink, head, body!, keepAlive);
  writeWhole(sink, head, bodiless ? null : body);
  return keepAlive;
}

// The framing of a string body, reused: serializeHead reads it at once and
// keeps nothing (one object less per response).
const LENGTH = { kind: "length" as const, length: 0 };

/**
 * Writes `response` to `sink` as the answer to `req`. Returns whether the
 * connection may be kept alive afterwards — at once when the body was at
 * hand, else once it has been sent. Throws (or rejects) when the body
 * stream fails after the head was sent (the caller must then cut the
 * connection).
 */
export function writeResponse(
  sink: ResponseSink,
  req: RespondingTo,
  response: Response,
  keepAlive: boolean,
): boolean | Promise<boolean> {
  const parts = (response as { [RESPONSE_PARTS]?: () => ResponseParts | null })[RESPONSE_PARTS]?.();
  if (parts) return writeParts(sink, req, parts, keepAlive);
  const headers = response.headers;
  if (keepAlive && wantsClose(headers)) keepAlive = false;
  if (decodedByFetch(response, headers)) return writeStreamed(sink, req, response, keepAlive, null, true);
  // A body whose size is known before it is read (a Blob's) is sent with it.
  const size = knownBodySize(response);
  const declared = headers.get("content-length") ?? (size === null ? null : String(size));
  // A body that is already complete (undici keeps its source): no streaming.
  const whole = declared === null ? staticBody(response) : null;
  if (whole === null) return writeStreamed(sink, req, response, keepAlive, declared);
  const bodiless = isBodiless(response.status, req.method);
  const head = serializeHead(
    response.status,
    response.statusText,
    headerFields(headers),
    bodiless ? { kind: "none", announce: String(whole.byteLength) } : { kind: "length", length: whole.byteLength },
    connectionField(keepAlive, req.versionMinor),
  );
  if (!bodiless && whole.byteLength > SLICE) return writeSliced(sink, head, whole, keepAlive);
  writeWhole(sink, head, bodiless ? null : whole);
  return keepAlive;
}

/**
 * Whether `response` came from `fetch()` (only those have a `url`) with a
 * Content-Encoding that this runtime's fetch has undone (each decodes its
 * own set; the platform binding says which): its body is the decoded one,
 * while its headers still state the upstream's coding and the coded length.
 * Sent as they stand, a `return fetch(upstream)` proxy answered 500 (the
 * body was longer than its Content-Length) or labelled plain bytes gzip,
 * which clients fail to decode; Deno.serve drops both fields, and so does
 * portico.
 */
function decodedByFetch(response: Response, headers: Headers): boolean {
  const coding = headers.get("content-encoding");
  if (coding === null || response.url === "") return false;
  return platform().fetchDecodes?.(coding) ?? false;
}

async function writeStreamed(
  sink: ResponseSink,
  req: RespondingTo,
  response: Response,
  keepAlive: boolean,
  declared: string | null,
  decoded = false,
): Promise<boolean> {
  const status = response.status;
  const headers = response.headers;
  // A body fetch() decoded goes out without the upstream's coding (see decodedByFetch).
  const fields = decoded ? [...headerFields(headers)].filter(([n]) => n !== "content-encoding") : headerFields(headers);
  const minor = req.versionMinor;
  const bodiless = isBodiless(status, req.method);
  const head = (framing: ResponseFraming, contentType: string | null = null) =>
    serializeHead(status, response.statusText, fields, framing, connectionField(keepAlive, minor), contentType);
  // Bun leaves the default Content-Type of a string body out of
  // `response.headers` (its built-in server adds it when sending); it is recovered
  // from a clone, made before the body is touched, once the body proved to
  // be a single chunk. Not for a LightResponse: it states a string's type,
  // and Bun's blob() would call bytes or a Blob without a type text/plain.
  // Nor for a response from fetch() (it has a `url`): its fields are the
  // upstream's, and a body without a type got text/plain on Bun alone.
  const typeProbe = STRING_TYPE_HIDDEN && !bodiless && !(RESPONSE_PARTS in response) &&
      !headers.has("content-type") && response.url === ""
    ? response.clone()
    : null;
  const body = response.body;

  if (body === null) {
    sink.write(encodeHead(head(bodiless ? { kind: "none", announce: declared } : { kind: "length", length: 0 })));
    return keepAlive;
  }
  if (bodiless) {
    let declaredLength = declared;
    if (declaredLength === null && req.method === "HEAD") declaredLength = await probeLength(body);
    else void body.cancel().catch(() => {});
    sink.write(encodeHead(head({ kind: "none", announce: declaredLength })));
    return keepAlive;
  }

  // The reader is never released: the body is ours to the end (releasing
  // costs more than the rest of a small response on Bun).
  const reader = body.getReader();
  const length = declared !== null && /^\d{1,15}$/.test(declared) ? Number(declared) : -1;
  if (length >= 0) {
    await pumpKnownLength(sink, reader, head({ kind: "length", length }), length);
    return keepAlive;
  }
  // Unknown length: a body that is already complete (a string, bytes,
  // JSON) gets a Content-Length; anything that takes longer is streamed,
  // and its head goes out at once rather than waiting for data.
  const firstRead = reader.read();
  const first = await soon(firstRead);
  let a: Uint8Array | null = null;
  let pendingRead: Promise<ReadableStreamReadResult<unknown>> | null = firstRead;
  if (first !== PENDING) {
    if (first.done) {
      sink.write(encodeHead(head({ kind: "length", length: 0 }, await hiddenType(typeProbe))));
      return keepAlive;
    }
    a = toBytes(first.value);
    pendingRead = reader.read();
    const second = await soon(pendingRead);
    if (second !== PENDING && second.done) {
      const whole = head({ kind: "length", length: a.byteLength }, await hiddenType(typeProbe));
      if (a.byteLength > SLICE) return writeSliced(sink, whole, a, keepAlive);
      writeWhole(sink, whole, a);
      return keepAlive;
    }
  }
  void typeProbe?.body?.cancel().catch(() => {});
  // HTTP/1.0 has no chunked coding: the end of the body is the end of the connection.
  const chunked = minor === 1;
  if (!chunked) keepAlive = false;
  const headBytes = encodeHead(head({ kind: chunked ? "chunked" : "close" }));
  if (a !== null && a.byteLength > SLICE) {
    sink.write(headBytes);
    await writeLargeChunk(sink, a, chunked);
  } else if (!sink.write(a === null ? headBytes : joinShared([headBytes, chunked ? encodeChunk(a) : a]))) {
    await sink.waitWritable();
  }
  await pump(sink, reader, chunked, pendingRead);
  if (chunked && !sink.closed) sink.write(lastChunk());
  return keepAlive;
}

const PENDING: unique symbol = Symbol("pending");

// Resolves with p's value if p settles within a few microtask turns, else
// with PENDING. A stream whose data is already queued answers a read within
// one or two turns on every runtime; one that waits on I/O or a timer does not.
function soon<T>(p: Promise<T>): Promise<T | typeof PENDING> {
  const later = Promise.resolve().then().then().then().then((): typeof PENDING => PENDING);
  return Promise.race<T | typeof PENDING>([p, later]);
}

const STRING_TYPE_HIDDEN = !new Response("x").headers.has("content-type");

async function hiddenType(probe: Response | null): Promise<string | null> {
  if (probe === null) return null;
  const type = (await probe.blob()).type;
  return type === "" ? null : type;
}

async function pump(
  sink: ResponseSink,
  reader: ReadableStreamDefaultReader<unknown>,
  chunked: boolean,
  pending: Promise<ReadableStreamReadResult<unknown>> | null,
): Promise<void> {
  const next = bodyReads(sink, reader);
  try {
    for (;;) {
      const r = await next(pending);
      pending = null;
      if (r === null || r.done) return;
      const bytes = toBytes(r.value);
      if (bytes.byteLength === 0) continue;
      if (bytes.byteLength > SLICE) {
        await writeLargeChunk(sink, bytes, chunked);
        continue;
      }
      if (!sink.write(chunked ? encodeChunk(bytes) : bytes)) await sink.waitWritable();
    }
  } finally {
    sink.onGone(null);
  }
}

/**
 * The body's reads for a pump: each gives the next chunk, or null once the
 * socket is gone (the body cancelled). When the client goes away (its FIN
 * or the close), the body is cancelled at once, with the reason (its
 * source's `cancel()` runs now, not when a later write fails, which for a
 * quiet stream such as SSE could be never), and the read in progress
 * throws it: the response was cut and must not end cleanly (no last chunk).
 */
function bodyReads(
  sink: ResponseSink,
  reader: ReadableStreamDefaultReader<unknown>,
): (pending?: Promise<ReadableStreamReadResult<unknown>> | null) => Promise<ReadableStreamReadResult<unknown> | null> {
  let reason: unknown = undefined;
  let cut = false;
  sink.onGone((why) => {
    cut = true;
    reason = why;
    void reader.cancel(why).catch(() => {});
  });
  return async (pending) => {
    if (sink.closed) {
      await reader.cancel().catch(() => {});
      return null;
    }
    const r = await (pending ?? reader.read());
    if (cut) throw reason;
    return r;
  };
}

async function pumpKnownLength(
  sink: ResponseSink,
  reader: ReadableStreamDefaultReader<unknown>,
  head: string,
  length: number,
): Promise<void> {
  let sent = 0;
  let first = true;
  const next = bodyReads(sink, reader);
  try {
    for (;;) {
      const r = await next();
      if (r === null) return;
      if (r.done) break;
      const bytes = toBytes(r.value);
      sent += bytes.byteLength;
      if (sent > length) throw new Error(`response body is longer than its Content-Length (${length})`);
      if (bytes.byteLength > SLICE) {
        if (first) sink.write(encodeHead(head));
        first = false;
        await writeSlices(sink, bytes);
        continue;
      }
      const ok = first ? writeWhole(sink, head, bytes) : sink.write(bytes);
      first = false;
      if (!ok) await sink.waitWritable();
    }
  } finally {
    sink.onGone(null);
  }
  if (first) sink.write(encodeHead(head));
  if (sent < length && !sink.closed) throw new Error(`response body is shorter than its Content-Length (${length})`);
}

async function probeLength(body: ReadableStream<unknown>): Promise<string | null> {
  const reader = body.getReader();
  try {
    const first = await soon(reader.read());
    if (first === PENDING) return null;
    if (first.done) return "0";
    const second = await soon(reader.read());
    return second !== PENDING && second.done ? String(toBytes(first.value).byteLength) : null;
  } finally {
    void reader.cancel().catch(() => {});
  }
}
