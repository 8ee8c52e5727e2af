/**
 * A lightweight `Response` for runtimes whose `Response` constructor is
 * expensive (Node 20's undici builds a web stream, and makes it
 * transferable, for every body — more than half the cost of a small
 * response).
 *
 * `LightResponse` keeps a string, bytes or null body and its init as given,
 * and builds the platform Response only when something other than the
 * server asks for it (its headers, its body stream, `clone()`…). Unlike the
 * platform's, it does not copy a byte body: the bytes are read when the
 * response is written, so do not change them in between. The server
 * reads status, headers and body straight from it through
 * {@link RESPONSE_PARTS}. `instanceof Response` holds for both kinds.
 *
 * `installLightResponse()` makes it the global `Response`; `serve()` does so
 * unless told `lightResponse: false` (as `@hono/node-server` does on Node).
 * It pays on every runtime: the server then skips the Response's header
 * object and body stream entirely.
 *
 * It also gives the same answer on every runtime where the platforms
 * differ: `Response.json()` says `application/json` (Bun's adds
 * `;charset=utf-8`), `Response.redirect()` refuses a relative URL (Bun's
 * takes it), a 204, 205 or 304 with a body is refused (Bun's takes it), and
 * a string body's `content-type` is in the headers object (Bun's adds it
 * only when sending).
 *
 * @module
 */

import { parseFormBody } from "../forms/multipart.ts";
import { FixedFields } from "../http/fixed_head.ts";
import { forwardToPlatform } from "./forward.ts";

/** The parts of a response that the server can write without building it. */
export interface ResponseParts {
  /** Status code. */
  status: number;
  /** Reason phrase, or "". */
  statusText: string;
  /** Header fields as [lower-case name, value] pairs, validated. Shared: never modify. */
  headers: readonly (readonly [string, string])[];
  /** The whole body. */
  body: string | Uint8Array | null;
  /** `headers` as a program constant whose encoded heads are kept, or null. */
  fixed: FixedFields | null;
}

/** A method of Response-like objects: their parts, or null once they are a platform Response. */
export const RESPONSE_PARTS: unique symbol = Symbol.for("portico.response-parts") as never;

/**
 * A method of Response-like objects: the size of a body whose size is known
 * before it is read (a `Blob`'s), or -1. The writer sends it as the
 * Content-Length, where the platforms' streams would otherwise decide the
 * framing each their own way.
 */
export const BODY_SIZE: unique symbol = Symbol.for("portico.body-size") as never;

/**
 * Whether `response` is a lightweight one that keeps its own parts (a string,
 * bytes or no body): asking for its `body` or `headers` would build the
 * platform Response.
 *
 * @example
 * ```ts
 * import { hasOwnParts, makeLightResponse } from "./light_response.ts";
 * const LightResponse = makeLightResponse(Response);
 * console.log(hasOwnParts(new LightResponse("hi"))); // true
 * ```
 */
export function hasOwnParts(response: Response): boolean {
  return ((response as { [RESPONSE_PARTS]?: () => ResponseParts | null })[RESPONSE_PARTS]?.() ?? null) !== null;
}

/**
 * The size of `response`'s body where it is known without reading it: a
 * lightweight Response's string (its UTF-8 size) or bytes, a Blob's size;
 * else null.
 *
 * @example
 * ```ts
 * import { knownBodySize, makeLightResponse } from "./light_response.ts";
 * const LightResponse = makeLightResponse(Response);
 * console.log(knownBodySize(new LightResponse("héllo"))); // 6
 * ```
 */
export function knownBodySize(response: Response): number | null {
  const parts = (response as { [RESPONSE_PARTS]?: () => ResponseParts | null })[RESPONSE_PARTS]?.();
  if (parts) {
    const body = parts.body;
    return body === null ? null : typeof body === "string" ? utf8Length(body) : body.byteLength;
  }
  const size = (response as { [BODY_SIZE]?: () => number })[BODY_SIZE]?.() ?? -1;
  return size >= 0 ? size : null;
}

// The UTF-8 size of a string, without encoding it (a lone surrogate
// counts as U+FFFD, 3 bytes, as TextEncoder writes it).
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 4 bytes for 2 code units
      i++;
    } else n += 2;
  }
  return n;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\0\r\n\u0100-\uffff]/; // NUL, CR, LF, or not a byte
const OWS = /^[\t ]+|[\t ]+$/g;

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

// One validated field, or null when the platform must judge it.
function pairOf(name: unknown, raw: unknown): [string, string] | null {
  if (typeof name !== "string" || !TOKEN.test(name) || typeof raw === "symbol") return null;
  let value = String(raw);
  if (value.length > 0 && (isOws(value.charCodeAt(0)) || isOws(value.charCodeAt(value.length - 1)))) {
    value = value.replace(OWS, "");
  }
  return BAD_VALUE.test(value) ? null : [name.toLowerCase(), value];
}

// Header init as validated pairs, or null when the platform must judge it.
// Like the platform: an iterable (Headers, an array, a Map…) is a sequence
// of pairs, any other object a record; anything else is the platform's to
// reject. A Headers object's fields come in the standard's order on every
// runtime (Bun's iterate set-cookie last).
function pairsOf(init: HeadersInit | undefined): [string, string][] | null {
  const out: [string, string][] = [];
  if (init === undefined) return out;
  if (typeof init !== "object" || init === null) return null;
  if (Symbol.iterator in init) {
    const entries = init instanceof Headers ? headerFields(init) : init as Iterable<unknown>;
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2) return null;
      const pair = pairOf(entry[0], entry[1]);
      if (pair === null) return null;
      out.push(pair);
    }
    return out;
  }
  const record = init as Record<string, unknown>;
  if (Object.getOwnPropertySymbols(record).length > 0) return null;
  for (const name of Object.keys(record)) {
    const pair = pairOf(name, record[name]);
    if (pair === null) return null;
    out.push(pair);
  }
  return out;
}

const PLATFORM = Symbol("platform Response");

const TEXT_TYPE = "text/plain;charset=UTF-8";
const JSON_TYPE = "application/json";
// The fields of `new Response(string)` without headers, as the platform sets them.
// Not frozen: frozen arrays take slower paths when iterated.
const TEXT_PLAIN: readonly (readonly [string, string])[] = [["content-type", TEXT_TYPE]];
// The fields of `Response.json(data)` without headers.
const JSON_FIELDS: readonly (readonly [string, string])[] = [["content-type", JSON_TYPE]];
// Their heads, encoded once a second rather than per response (fixed_head.ts).
const TEXT_PLAIN_HEADS = new FixedFields(TEXT_PLAIN);
const JSON_HEADS = new FixedFields(JSON_FIELDS);

function hasContentType(pairs: readonly (readonly [string, string])[]): boolean {
  for (let i = 0; i < pairs.length; i++) if (pairs[i][0] === "content-type") return true;
  return false;
}

// The text of a body that the platform converts with String(): a number, a
// boolean, a bigint, or an object of none of the body types that is not
// iterable (a plain object; the Promise of a forgotten `await`). Converted
// here, it is a string body like any other, with its text/plain type on
// every runtime (Bun's Response leaves the type out). Iterables are left to
// the platforms, which disagree about them.
function textOf(body: unknown): string | null {
  const type = typeof body;
  if (type === "number" || type === "boolean" || type === "bigint") return String(body);
  if (typeof body !== "object" || body === null) return null;
  if (
    ArrayBuffer.isView(body) || body instanceof ArrayBuffer || body instanceof Blob || body instanceof FormData ||
    body instanceof URLSearchParams || body instanceof ReadableStream ||
    (typeof SharedArrayBuffer === "function" && body instanceof SharedArrayBuffer) ||
    Symbol.iterator in body || Symbol.asyncIterator in body
  ) return null;
  return String(body);
}

function isNullBodyStatus(status: number | undefined): boolean {
  return status === 204 || status === 205 || status === 304;
}

// The Fetch standard's header order: sorted by name, each `set-cookie` field
// in its place. Bun's Headers iterate `set-cookie` last.
const SPEC_ORDER = [...new Headers([["x", "1"], ["set-cookie", "a=1"]])][0][0] === "set-cookie";

function byName(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The fields of a platform `Headers` in the Fetch standard's order, which
 * is the order the response writer sends them in on every runtime.
 *
 * @example
 * ```ts
 * import { headerFields } from "./light_response.ts";
 * const fields = [...headerFields(new Headers([["x", "1"], ["set-cookie", "a=1"]]))];
 * // [["set-cookie", "a=1"], ["x", "1"]]
 * ```
 */
export function headerFields(headers: Headers): Iterable<readonly [string, string]> {
  // sort() is stable: several set-cookie fields keep their order.
  return SPEC_ORDER ? headers : [...headers].sort(byName);
}

/** Headers that refuse changes, as the Fetch standard's "immutable" guard does. */
class ImmutableHeaders extends Headers {
  override append(): void {
    throw new TypeError("Headers are immutable");
  }
  override set(): void {
    throw new TypeError("Headers are immutable");
  }
  override delete(): void {
    throw new TypeError("Headers are immutable");
  }
}

/** Creates the class for a given platform Response (so tests can make one without installing it). */
export function makeLightResponse(Native: typeof Response): typeof Response {
  let isLight: (x: object) => boolean;
  // Bun's Response.redirect() gives headers that can be changed.
  let redirectHeadersMutable = true;
  try {
    Native.redirect("http://x/").headers.set("x-probe", "1");
  } catch {
    redirectHeadersMutable = false;
  }
  // Bun's Response leaves a string body's content-type out of its headers.
  const typeHidden = !new Native("x").headers.has("content-type");

  class LightResponse {
    #body: string | Uint8Array | null = null;
    #init: ResponseInit | undefined;
    #pairs: readonly (readonly [string, string])[] | null = null;
    #real: Response | null = null;
    #headers: Headers | null = null; // handed out by the headers getter: the fields from then on
    #size = -1; // a Blob body's size

    constructor(body?: BodyInit | null, init?: ResponseInit) {
      if (typeof body === "string" && init === undefined) {
        // `new Response(text)`, the commonest of all: nothing to check.
        this.#body = body;
        this.#pairs = TEXT_PLAIN;
        return;
      }
      if (body instanceof ArrayBuffer) body = new Uint8Array(body);
      else if (ArrayBuffer.isView(body) && !(body instanceof Uint8Array)) {
        body = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      } else if (body instanceof Blob) this.#size = body.size;
      else if (body !== undefined && body !== null && typeof body !== "string") {
        const text = textOf(body);
        if (text !== null) body = text;
      }
      const simple = body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
      const status = init?.status;
      const plainInit = init === undefined ||
        ((status === undefined || (Number.isInteger(status) && status >= 200 && status <= 599)) &&
          (init.statusText === undefined || /^[\t\x20-\x7e\x80-\xff]*$/.test(init.statusText)) &&
          // A null-body status with a body: the platform throws.
          (body === undefined || body === null || (status !== 204 && status !== 205 && status !== 304)));
      const pairs = simple && plainInit ? pairsOf(init?.headers) : null;
      if (pairs === null) {
        if (body !== undefined && body !== null && isNullBodyStatus(init?.status)) {
          // Node's and Deno's Response throw here; Bun's would send a 204 and drop the body.
          throw new TypeError(`Response with null body status ${init!.status} cannot have a body`);
        }
        if (typeof body === "string" && typeHidden) {
          const headers = new Headers(init?.headers); // throws as the platform would
          if (!headers.has("content-type")) headers.set("content-type", TEXT_TYPE);
          init = { status: init?.status, statusText: init?.statusText, headers };
        }
        this.#real = new Native(body, init); // the platform validates (and throws) as usual
        return;
      }
      this.#body = (body ?? null) as string | Uint8Array | null;
      this.#init = init;
      if (typeof body === "string" && !hasContentType(pairs)) {
        if (pairs.length === 0) {
          this.#pairs = TEXT_PLAIN; // shared: the server only reads it
          return;
        }
        pairs.push(["content-type", TEXT_TYPE]);
      }
      this.#pairs = pairs;
    }

    static {
      // Whether `x` was made by this class (a subclass's instances too);
      // not a static method: the global Response shows no more than the platform's.
      isLight = (x) => #real in x;
    }

    /** The platform Response, built on first use. */
    [PLATFORM](): Response {
      if (this.#real !== null) return this.#real;
      // With the validated fields, content-type included: the same headers
      // object on every runtime.
      const real = new Native(this.#body as BodyInit | null, {
        status: this.#init?.status,
        statusText: this.#init?.statusText,
        headers: this.#headers ?? this.#pairs as [string, string][],
      });
      // Headers already handed out stay the response's: what is set on them
      // later is what the server sends (it reads `headers`, not the
      // platform's own copy; a clone() of the platform Response would not
      // see it).
      if (this.#headers !== null) Object.defineProperty(real, "headers", { value: this.#headers, configurable: true });
      return this.#real = real;
    }

    /**
     * The fields, as a `Headers` of their own: a middleware that sets a field
     * on a made response (Hono's cors(), secureHeaders()…) no longer builds
     * the platform Response, its body stream included (24–61 µs per request
     * on Node, 14–34 on Deno, 7–17 on Bun, measured by a helper this session).
     */
    get headers(): Headers {
      if (this.#real !== null) return this.#real.headers;
      return this.#headers ??= new Headers(this.#pairs as [string, string][]);
    }

    /** `Response.json()` with `application/json` on every runtime (Bun's adds a charset). */
    static json(data: unknown, init?: ResponseInit): Response {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Value is not JSON serializable");
      // Pairs, not HeadersInit: Deno's HeadersInit type has no arrays in it,
      // so a variable of that type could not be pushed to under Deno's check.
      const pairs = pairsOf(init?.headers);
      if (pairs !== null && pairs.length === 0) {
        // No fields of its own: the constant JSON fields, whose heads are kept.
        const r = new LightResponse(text, { status: init?.status, statusText: init?.statusText });
        if (r.#real === null) {
          r.#pairs = JSON_FIELDS;
          return r as never;
        }
      }
      let headers: HeadersInit;
      if (pairs === null) {
        const h = new Headers(init!.headers); // throws as the platform would
        if (!h.has("content-type")) h.set("content-type", JSON_TYPE);
        headers = h;
      } else {
        if (!hasContentType(pairs)) pairs.push(["content-type", JSON_TYPE]);
        headers = pairs;
      }
      return new LightResponse(text, { status: init?.status, statusText: init?.statusText, headers }) as never;
    }

    /**
     * `Response.redirect()`, refusing a relative URL on every runtime (Bun's
     * takes it), with headers that refuse changes (Bun's take them: a cookie
     * appended to a redirect worked on Bun alone).
     */
    static redirect(url: string | URL, status?: number): Response {
      try {
        new URL(String(url));
      } catch {
        throw new TypeError(`Invalid URL: ${String(url)}`);
      }
      const r = status === undefined ? Native.redirect(url) : Native.redirect(url, status);
      if (redirectHeadersMutable) {
        Object.defineProperty(r, "headers", { value: new ImmutableHeaders(r.headers), configurable: true });
      }
      return r;
    }

    /**
     * The body as a form, with portico's parser (forms/multipart.ts), as
     * `req.formData()` reads a request's: the platforms' parsers disagree
     * (Bun types every file text/plain, Deno takes a cut-off body as a
     * shorter form). Hono's `c.req.parseBody()` reads a form this way.
     */
    formData(): Promise<FormData> {
      const real = this[PLATFORM](); // reads the body as the platform does: once
      const type = real.headers.get("content-type");
      return real.arrayBuffer().then((body) => parseFormBody(new Uint8Array(body), type));
    }

    // A Blob's size, or the size of the string or bytes it was made of once
    // its platform Response was built (something looked at its body):
    // still sent with that length, where Bun's stream of a string above
    // 64 KiB, in pieces, went out chunked.
    [BODY_SIZE](): number {
      const body = this.#body;
      if (this.#size >= 0 || body === null) return this.#size;
      return this.#size = typeof body === "string" ? utf8Length(body) : body.byteLength;
    }

    [RESPONSE_PARTS](): ResponseParts | null {
      if (this.#real !== null) return null;
      const headers = this.#headers !== null ? [...headerFields(this.#headers)] : this.#pairs!;
      return {
        status: this.#init?.status ?? 200,
        statusText: this.#init?.statusText ?? "",
        headers,
        body: this.#body,
        fixed: headers === TEXT_PLAIN ? TEXT_PLAIN_HEADS : headers === JSON_FIELDS ? JSON_HEADS : null,
      };
    }

    get status(): number {
      return this.#real ? this.#real.status : this.#init?.status ?? 200;
    }

    get statusText(): string {
      return this.#real ? this.#real.statusText : this.#init?.statusText ?? "";
    }

    get ok(): boolean {
      const s = this.status;
      return s >= 200 && s < 300;
    }
  }

  // Everything else on Response.prototype (headers, body, the readers,
  // clone…) builds the platform Response and goes to it.
  forwardToPlatform(LightResponse.prototype, Native.prototype, (self) => (self as LightResponse)[PLATFORM]());
  Object.setPrototypeOf(LightResponse, Native); // Response.json, .redirect, .error
  // Both kinds are Responses: the platform's (from fetch, Response.json) and ours.
  // Ours are told by their private field first: the server asks of every
  // response, and a brand check costs less than walking the prototype chain.
  Object.defineProperty(LightResponse, Symbol.hasInstance, {
    value: (x: unknown) =>
      typeof x === "object" && x !== null &&
      (isLight(x) || Object.prototype.isPrototypeOf.call(Native.prototype, x)),
  });
  return LightResponse as unknown as typeof Response;
}

let installed = false;

/**
 * Replaces the global `Response` with `LightResponse`, once. Returns whether
 * it is installed.
 *
 * @example
 * ```ts
 * import { installLightResponse } from "./light_response.ts";
 * installLightResponse(); // before handlers create responses
 * ```
 */
export function installLightResponse(): boolean {
  if (!installed) {
    globalThis.Response = makeLightResponse(globalThis.Response);
    installed = true;
  }
  return true;
}
