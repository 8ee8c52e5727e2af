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
 * @module
 */

import { readAll } from "../http/bytes.ts";
import { forwardToPlatform } from "./forward.ts";

/** What the connection gives a request. */
export interface RequestSource {
  /** The body stream, or null when the message has no body (built on first use). */
  readonly stream: ReadableStream<Uint8Array> | null;
  /** Whether the stream was built and is locked. */
  readonly locked: boolean;
  /** Reads the whole body without building a stream; null when there is no body. */
  collect(): Promise<Uint8Array<ArrayBuffer>> | null;
  /** The signal that aborts when the client goes away. */
  signal(): AbortSignal;
}

const decoder = new TextDecoder();

/** A lazily built `Request`; see the module docs. */
export class IncomingRequest {
  #method: string;
  #url: string;
  #rawHeaders: string[];
  #headers: Headers | null = null;
  #source: RequestSource;
  #real: Request | null = null;
  #bodyUsed = false;
  #streamed = false; // someone has the body stream: reads must go through it

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
      for (let i = 0; i < raw.length; i += 2) h.append(raw[i], raw[i + 1]);
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
    if (this.#real) return this.#real.body;
    this.#streamed = true;
    return this.#source.stream;
  }

  /** Whether the body has been read. */
  get bodyUsed(): boolean {
    if (this.#real) return this.#real.bodyUsed;
    return this.#bodyUsed || this.#source.locked;
  }

  // The body readers return their promises directly rather than through
  // async functions: a body that is already complete then reaches the
  // handler a few microtask turns sooner.

  /** Reads the whole body into a new buffer. */
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#real) return this.#real.arrayBuffer().then((b) => new Uint8Array(b));
    if (this.bodyUsed) return Promise.reject(new TypeError("Body has already been consumed."));
    this.#bodyUsed = true;
    if (this.#streamed) return readAll(this.#source.stream!);
    return this.#source.collect() ?? Promise.resolve(new Uint8Array(0));
  }

  /** Reads the whole body into an ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes().then(bufferOf);
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    return this.bytes().then(decodeText);
  }

  /** Reads the whole body as JSON. */
  json(): Promise<unknown> {
    return this.text().then(JSON.parse);
  }

  /** The platform Request, built on first use. */
  materialize(): Request {
    if (this.#real === null) {
      const body = this.#source.stream;
      if (this.#bodyUsed) throw new TypeError("Body has already been consumed.");
      this.#real = new Request(this.#url, {
        method: this.#method,
        headers: this.headers,
        body,
        signal: this.signal,
        // @ts-ignore: `duplex` is required by Node and Deno for stream bodies, unknown to DOM typings
        duplex: "half",
      });
    }
    return this.#real;
  }
}

function bufferOf(bytes: Uint8Array<ArrayBuffer>): ArrayBuffer {
  return bytes.buffer;
}

function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

// Everything else on Request.prototype forwards to the real Request.
forwardToPlatform(IncomingRequest.prototype, Request.prototype, (self) => (self as IncomingRequest).materialize());
