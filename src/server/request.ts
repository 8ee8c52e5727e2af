/**
 * The request a handler receives: a real `Request` (`instanceof Request`
 * holds) whose costly parts are built only when used.
 *
 * `method`, `url`, `headers`, `signal` and the body readers are answered
 * directly from the parsed message. Any other part of the Request API
 * builds the platform `Request` once, on first use, and forwards to it. This
 * matters most on Node, where constructing a `Request` and its `Headers`
 * costs more than parsing the message did.
 *
 * The platform's `Request` constructor and `fetch` read internal slots of a
 * Request argument, which a stand-in cannot have: Node throws, Deno refuses
 * the argument, and Bun reads it as a URL string (a POST becomes a GET).
 * {@link installRequestBridge} (called when `serve()`'s module is imported) makes the global
 * `Request` and `fetch` build the platform Request of a stand-in first, so
 * `new Request(req)`, `new Request(req, init)` and `fetch(req)` work as
 * they do with a platform Request.
 *
 * @module
 */

import { parseFormBody } from "../forms/multipart.ts";
import { readAll } from "../http/bytes.ts";
import { forwardToPlatform } from "./forward.ts";

/** What the connection gives a request. */
export interface RequestSource {
  /** The body stream, or null when the message has no body (built on first use). */
  readonly stream: ReadableStream<Uint8Array> | null;
  /** Whether the stream was built and is locked. */
  readonly locked: boolean;
  /** Whether the stream was read from or cancelled. */
  readonly disturbed: boolean;
  /** Whether the message has a body at all (without building anything). */
  readonly hasBody: boolean;
  /** Reads the whole body without building a stream; null when there is no body. */
  collect(): Promise<Uint8Array<ArrayBuffer>> | null;
  /** The signal that aborts when the client goes away. */
  signal(): AbortSignal;
}

const decoder = new TextDecoder();

let rebase: (request: IncomingRequest, url: string) => IncomingRequest | null;

/**
 * `request` under another URL, with the same method, headers, body and
 * signal: what `trustProxy` hands the handler when a proxy forwarded the
 * scheme or host. One of portico's requests that nobody has read yet
 * becomes another without building the platform `Request` (on Node that
 * cost 40 µs per request, 50 times the core's whole cost; `bench/core.mjs`
 * with forwarded headers); any other is copied into a platform `Request`.
 *
 * @example
 * ```ts
 * import { requestWithUrl } from "./request.ts";
 * const moved = requestWithUrl(new Request("http://10.0.0.5:8000/a"), "https://shop.example/a");
 * console.log(moved.url); // "https://shop.example/a"
 * ```
 */
export function requestWithUrl(request: Request, url: string): Request {
  if (request instanceof IncomingRequest) {
    const moved = rebase(request, url);
    if (moved !== null) return moved as unknown as Request;
  }
  // A body read already cannot be handed on (the platform would throw: a
  // 500): the copy gets a spent one, so that it says it was used, as the
  // original does, rather than reading as empty.
  const used = request.bodyUsed;
  const moved = new Request(url, {
    method: request.method,
    headers: request.headers,
    body: used ? new ReadableStream() : request.body,
    signal: request.signal,
    // @ts-ignore: `duplex` is required by Node and Deno for stream bodies, unknown to DOM typings
    duplex: "half",
  });
  if (used) void moved.body?.cancel();
  return moved;
}

let rawField: (request: IncomingRequest, name: string) => string | null;

/**
 * `request.headers.get(name)` (`name` in lower case), read from the parsed
 * fields when `request` is one of portico's, without building its
 * `Headers` (2–4 µs on Node for a browser's request): for wrappers that look
 * at a field or two of every request, such as `trustProxy`.
 *
 * @example
 * ```ts
 * import { headerOf } from "./request.ts";
 * headerOf(new Request("http://x/", { headers: { "X-A": "1" } }), "x-a"); // "1"
 * ```
 */
export function headerOf(request: Request, name: string): string | null {
  return request instanceof IncomingRequest ? rawField(request, name) : request.headers.get(name);
}

/** A lazily built `Request`; see the module docs. */
export class IncomingRequest {
  #method: string;
  #url: string;
  #rawHeaders: string[];
  #headers: Headers | null = null;
  #source: RequestSource;
  #real: Request | null = null;
  #realHasBody = false; // #real was built with this body (not after it was read)
  #bodyUsed = false;
  #streamed = false; // someone has the body stream: reads must go through it

  static {
    // Not methods: a handler's request shows no more than the platform's.
    rawField = (r, name) => {
      if (r.#headers !== null) return r.#headers.get(name);
      const raw = r.#rawHeaders;
      let value: string | null = null;
      for (let i = 0; i < raw.length; i += 2) {
        const n = raw[i];
        if (n.length === name.length && sameName(n, name)) {
          value = value === null ? raw[i + 1] : `${value}${name === "cookie" ? "; " : ", "}${raw[i + 1]}`;
        }
      }
      return value;
    };
    rebase = (r, url) => {
      if (r.#realHasBody) return null; // the platform Request has the body: copy it the platform's way
      // The same body, in the state it is in: read already (the moved one
      // says so, where a platform copy of a read body threw, a 500), or its
      // stream handed out (the same stream).
      const moved = new IncomingRequest(r.#method, url, r.#rawHeaders, r.#source);
      moved.#headers = r.#headers;
      moved.#bodyUsed = r.#bodyUsed;
      moved.#streamed = r.#streamed;
      return moved;
    };
  }

  /** Wraps a parsed message. `rawHeaders` is flat: name, value, name, value… */
  constructor(method: string, url: string, rawHeaders: string[], source: RequestSource) {
    this.#method = method;
    this.#url = url;
    this.#rawHeaders = rawHeaders;
    this.#source = source;
  }

  /** The request method, as sent. */
  get method(): string {
    return this.#method;
  }

  /** The absolute URL. */
  get url(): string {
    return this.#url;
  }

  /** The request's header fields. */
  get headers(): Headers {
    if (this.#headers === null) {
      const h = new Headers();
      const raw = this.#rawHeaders;
      let cookie: string | null = null;
      for (let i = 0; i < raw.length; i += 2) {
        const n = raw[i];
        if (n.length === 6 && sameName(n, "cookie")) cookie = cookie === null ? raw[i + 1] : `${cookie}; ${raw[i + 1]}`;
        else h.append(n, raw[i + 1]);
      }
      // Several Cookie lines are one list joined by "; " (RFC 9113 §8.2.3, as
      // Node's and Bun's Headers and Deno.serve join them): Deno's Headers
      // joined them with ", ", which cookie parsers read as one cookie.
      if (cookie !== null) h.append("cookie", cookie);
      this.#headers = h;
    }
    return this.#headers;
  }

  /** Aborts when the client disconnects before the response is complete. */
  get signal(): AbortSignal {
    return this.#source.signal();
  }

  /** The body stream, or null. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#realHasBody) return this.#real!.body;
    const stream = this.#source.stream;
    // Read whole without a stream (text(), json()…): the stream is spent,
    // locked as the platform's is after such a read.
    if (stream !== null && this.#bodyUsed && !this.#streamed && !stream.locked) stream.getReader();
    this.#streamed = true;
    return stream;
  }

  /** Whether the body has been read (from its stream too, as the Fetch standard's "disturbed"). */
  get bodyUsed(): boolean {
    if (this.#realHasBody) return this.#real!.bodyUsed;
    return this.#bodyUsed || this.#source.disturbed;
  }

  // Whether the body can no longer be read whole or handed on: read, or
  // locked to a reader (the Fetch standard's "unusable").
  #unusable(): boolean {
    return this.#bodyUsed || this.#source.disturbed || this.#source.locked;
  }

  // The body readers return their promises directly rather than through
  // async functions: a body that is already complete then reaches the
  // handler a few microtask turns sooner.

  /** Reads the whole body into a new buffer. */
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#realHasBody) return this.#real!.arrayBuffer().then((b) => new Uint8Array(b));
    // A request without a body reads as empty, however often (a null body
    // is never used, in the Fetch standard); its `body` is null.
    if (!this.#source.hasBody) return Promise.resolve(new Uint8Array(0));
    if (this.#unusable()) return Promise.reject(new TypeError("Body has already been consumed."));
    this.#bodyUsed = true;
    // Once someone has the stream, reads go through it.
    const stream = this.#streamed ? this.#source.stream : null;
    if (stream !== null) return readAll(stream);
    return this.#source.collect() ?? Promise.resolve(new Uint8Array(0));
  }

  /** Reads the whole body into an ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes().then(bufferOf);
  }

  /**
   * Reads the whole body as a Blob typed with the request's Content-Type.
   * (Its own, not the platform Request's: once the body was read, that one
   * is built without it, and gave an empty Blob.)
   */
  blob(): Promise<Blob> {
    const type = blobType(rawField(this, "content-type"));
    return this.bytes().then((b) => new Blob([b], { type }));
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    return this.bytes().then(decodeText);
  }

  /** Reads the whole body as JSON. */
  json(): Promise<unknown> {
    return this.text().then(JSON.parse);
  }

  /**
   * Reads the whole body as a form, with portico's own parser rather than
   * the platform's: the platforms disagree on files' types, cut-off bodies
   * and more (see forms/multipart.ts), and a handler should get the same
   * form from every runtime. A malformed body is a `TypeError`, as there.
   */
  formData(): Promise<FormData> {
    const type = this.headers.get("content-type");
    return this.bytes().then((body) => parseFormBody(body, type));
  }

  /**
   * The platform Request, built on first use. Without the client's
   * `Expect: 100-continue`: portico has met that expectation itself (the
   * 100 goes out when the body is first read), it is not the platform
   * Request's to repeat, and Node's `fetch` refuses a request that carries
   * it (`fetch(req)` would fail for every curl upload above 1 KiB).
   */
  materialize(): Request {
    if (this.#real === null) {
      // A body already read stays this request's to answer for (bodyUsed,
      // body, the readers): the platform Request, for its other properties
      // (`cache`, `mode`…, which threw after a read), is built without it.
      const spent = this.#unusable();
      this.#real = this.#platform(spent ? null : this.#source.stream);
      this.#realHasBody = !spent;
    }
    return this.#real;
  }

  /**
   * The body of a copy (`new Request(req)`, `fetch(req)`, `clone()`): this
   * request's platform Request, or a TypeError when its body was read or
   * is being read, as the platform's constructor gives.
   */
  forCopy(): Request {
    if (this.#realHasBody || !this.#unusable()) return this.materialize();
    throw new TypeError("Request body is already used");
  }

  /** A copy with a body of its own (the body is teed); a TypeError once the body was read. */
  clone(): Request {
    return this.forCopy().clone();
  }

  /**
   * The platform Request for `new Request(req, { body })` and `fetch(req, {
   * body })`, whose body replaces this one: built without this body, which
   * may have been read already (the Fetch standard allows that; Hono's
   * bodyLimit() reads a chunked body, then wraps the request so). Not kept:
   * it is not this request.
   */
  materializeWithoutBody(): Request {
    return this.#realHasBody ? this.#real! : this.#platform(null);
  }

  #platform(body: ReadableStream<Uint8Array> | null): Request {
    let headers = this.headers;
    if (headers.get("expect")?.toLowerCase() === "100-continue") {
      headers = new Headers(headers);
      headers.delete("expect");
    }
    return new Request(this.#url, {
      method: this.#method,
      headers,
      body,
      signal: this.signal,
      // @ts-ignore: `duplex` is required by Node and Deno for stream bodies, unknown to DOM typings
      duplex: "half",
    });
  }
}

// A Content-Type as Node's and Deno's Request give a Blob of the body (the
// MIME type serialised, lower case; "" when it does not parse), on every
// runtime: Bun's passes the field on as it came.
const MIME = /^[\t ]*([!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+)[\t ]*((?:;.*)?)$/;
function blobType(field: string | null): string {
  const m = field === null ? null : MIME.exec(field);
  if (m === null) return "";
  let type = m[1];
  for (const param of m[2].split(";")) {
    const eq = param.indexOf("=");
    if (eq > 0) type += `;${param.slice(0, eq).trim()}=${param.slice(eq + 1).trim()}`;
  }
  return type.toLowerCase();
}

// Whether field name `n` is `lower` in any case, without a lower-cased copy.
function sameName(n: string, lower: string): boolean {
  for (let i = 0; i < n.length; i++) {
    let c = n.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function bufferOf(bytes: Uint8Array<ArrayBuffer>): ArrayBuffer {
  return bytes.buffer;
}

function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

// Everything else on Request.prototype forwards to the real Request.
forwardToPlatform(IncomingRequest.prototype, Request.prototype, (self) => (self as IncomingRequest).materialize());
// `req.constructor` is the global Request, as a platform Request's is: code
// that makes another of the same kind (`new req.constructor(url, init)`)
// crashed on this class's own constructor.
Object.defineProperty(IncomingRequest.prototype, "constructor", {
  get: () => globalThis.Request,
  configurable: true,
});

// A stand-in given to a platform API becomes the platform Request it stands for.
function unwrap(value: unknown, bodyReplaced = false): unknown {
  if (!(value instanceof IncomingRequest)) return value;
  return bodyReplaced ? value.materializeWithoutBody() : value.forCopy();
}

// Whether a Request's init gives a body of its own, which replaces the input's.
function givesBody(init: unknown): boolean {
  return typeof init === "object" && init !== null && !(init instanceof IncomingRequest) &&
    (init as { body?: unknown }).body != null;
}

let bridged = false;

// The wrapper reads as the platform function: its name and length, and its
// statics through the prototype chain.
function lookAlike(wrapper: object, native: { name: string; length: number }): void {
  Object.defineProperty(wrapper, "name", { value: native.name });
  Object.defineProperty(wrapper, "length", { value: native.length });
  Object.setPrototypeOf(wrapper, native);
}

/**
 * Replaces the global `Request` and `fetch`, once, with thin wrappers that
 * accept the requests portico hands to handlers wherever the platform's
 * accept a Request (as the input, or as the init). Platform Requests are
 * still `instanceof Request` (the wrapper shares the platform's prototype),
 * subclasses of `Request` still work, and everything else is passed through
 * unchanged. Called when `serve()`'s module is imported.
 *
 * @example
 * ```ts
 * import { installRequestBridge } from "./request.ts";
 * installRequestBridge(); // before handlers call new Request(req) or fetch(req)
 * ```
 */
export function installRequestBridge(): void {
  if (bridged) return;
  bridged = true;
  const g = globalThis as { Request: typeof Request; fetch: typeof fetch };
  const NativeRequest = g.Request;
  const nativeFetch = g.fetch;
  // A function, not a subclass: its prototype must be the platform's own, so
  // that Requests the platform makes (fetch's, clone()'s) stay instanceof it.
  const BridgedRequest = function (this: unknown, ...args: unknown[]): Request {
    if (new.target === undefined) return Reflect.apply(NativeRequest, this, args); // the platform's TypeError
    if (args.length > 0) args[0] = unwrap(args[0], givesBody(args[1]));
    if (args.length > 1) args[1] = unwrap(args[1]);
    return Reflect.construct(NativeRequest, args, new.target);
  };
  BridgedRequest.prototype = NativeRequest.prototype;
  const bridgedFetch = function (input: unknown, init?: unknown): Promise<Response> {
    try {
      return nativeFetch(unwrap(input, givesBody(init)) as RequestInfo, unwrap(init) as RequestInit | undefined);
    } catch (e) {
      return Promise.reject(e); // a used body: fetch rejects, it does not throw
    }
  };
  lookAlike(BridgedRequest, NativeRequest);
  lookAlike(bridgedFetch, nativeFetch); // Bun's fetch.preconnect and the like
  g.Request = BridgedRequest as unknown as typeof Request;
  g.fetch = bridgedFetch as typeof fetch;
}
