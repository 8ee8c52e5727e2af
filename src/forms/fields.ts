/**
 * Typed reading of query strings and form bodies. Every failure — a missing
 * field, a non-number where a number is needed, a body over the limit, a
 * body that is not a form — is an `HttpError` with status 400 (413 for size)
 * and a message naming the field, so that a handler that lets it propagate
 * answers the client clearly instead of with a 500.
 *
 * @module
 */

import { readAll } from "../http/bytes.ts";
import { HttpError } from "../http/errors.ts";
import { headerOf } from "../server/request.ts";
import { parseFormBody } from "./multipart.ts";

/** Typed access to named fields, from a query string or a form body. */
export class Fields {
  #source: "query" | "form";
  #get: (name: string) => (string | File)[];

  /** @internal Wraps a lookup; use `query()` or `form()`. */
  constructor(source: "query" | "form", get: (name: string) => (string | File)[]) {
    this.#source = source;
    this.#get = get;
  }

  #missing(name: string): never {
    throw new HttpError("BAD_REQUEST", `missing ${this.#source} field "${name}"`);
  }

  /** A text field; throws 400 when absent. */
  string(name: string): string {
    return this.optionalString(name) ?? this.#missing(name);
  }

  /** A text field, or undefined. */
  optionalString(name: string): string | undefined {
    const v = this.#get(name)[0];
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      throw new HttpError("BAD_REQUEST", `${this.#source} field "${name}" must be text, not a file`);
    }
    return v;
  }

  /** A finite number; throws 400 when absent or not a number. */
  number(name: string): number {
    return this.optionalNumber(name) ?? this.#missing(name);
  }

  /** A finite number, or undefined when absent; throws 400 when present but not a number. */
  optionalNumber(name: string): number | undefined {
    const s = this.optionalString(name);
    if (s === undefined) return undefined;
    const n = s.trim() === "" ? NaN : Number(s);
    if (!Number.isFinite(n)) {
      throw new HttpError("BAD_REQUEST", `${this.#source} field "${name}" must be a number, got "${s}"`);
    }
    return n;
  }

  /** An integer; throws 400 when absent or not an integer. */
  integer(name: string): number {
    const n = this.number(name);
    if (!Number.isInteger(n)) throw new HttpError("BAD_REQUEST", `${this.#source} field "${name}" must be an integer`);
    return n;
  }

  /** Every text value of a repeated field. */
  strings(name: string): string[] {
    return this.#get(name).filter((v): v is string => typeof v === "string");
  }

  /** An uploaded file (multipart forms); throws 400 when absent or not a file. */
  file(name: string): File {
    const v = this.#get(name)[0];
    if (v === undefined) this.#missing(name);
    if (typeof v === "string") throw new HttpError("BAD_REQUEST", `form field "${name}" must be a file`);
    return v;
  }
}

/**
 * The query string of a request (or URL) as typed fields.
 *
 * @example
 * ```ts
 * import { query } from "portico";
 * const handler = (req: Request) => {
 *   const page = query(req).optionalNumber("page") ?? 1;
 *   return new Response(`page ${page}`);
 * };
 * ```
 */
export function query(request: Request | URL): Fields {
  const params = (request instanceof URL ? request : new URL(request.url)).searchParams;
  return new Fields("query", (name) => params.getAll(name));
}

/** Options of `form()`. */
export interface FormOptions {
  /** Largest body accepted, in bytes; beyond it, 413. Default 1 MiB. */
  maxBytes?: number;
}

/**
 * Reads an `application/x-www-form-urlencoded` or `multipart/form-data` body
 * as typed fields. The size limit is enforced while the body streams in.
 *
 * @example
 * ```ts
 * import { form } from "portico";
 * const handler = async (req: Request) => {
 *   const f = await form(req, { maxBytes: 64 * 1024 });
 *   return new Response(`sum ${f.number("a") + f.number("b")}`);
 * };
 * ```
 */
export async function form(request: Request, options: FormOptions = {}): Promise<Fields> {
  const max = options.maxBytes ?? 1024 * 1024;
  const type = headerOf(request, "content-type") ?? "";
  const kind = type.split(";")[0].trim().toLowerCase();
  if (kind !== "application/x-www-form-urlencoded" && kind !== "multipart/form-data") {
    throw new HttpError("BAD_REQUEST", `expected a form body, got content-type "${type || "none"}"`);
  }
  const tooLarge = () => new HttpError("BODY_TOO_LARGE", `form body larger than ${max} bytes`);
  const declared = headerOf(request, "content-length");
  if (Number(declared ?? NaN) > max) throw tooLarge();
  // A declared length is the most that can come: the body is read whole,
  // without a stream (a web stream cost form() 5–6× a text() on Node). A
  // chunked one is counted as it streams in.
  const body = declared !== null
    ? new Uint8Array(await request.arrayBuffer())
    : request.body === null
    ? new Uint8Array(0)
    : await readAll(request.body, max, tooLarge);
  let data: FormData;
  try {
    data = parseFormBody(body, type);
  } catch (e) {
    throw new HttpError("BAD_REQUEST", `malformed form body: ${(e as Error).message}`);
  }
  return new Fields("form", (name) => data.getAll(name) as (string | File)[]);
}
