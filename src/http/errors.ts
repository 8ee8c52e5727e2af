/**
 * `HttpError`: an error that answers with an HTTP status. Applications throw
 * it from a handler (`new HttpError(404)`, with headers and a cause if they
 * like); the parser and the body readers throw it with a named code, after
 * llhttp: every way a request can be malformed has a code, and every code
 * maps to the status the server answers with.
 *
 * @module
 */

import { reasonPhrase } from "./response.ts";

/** Why a request was rejected. */
export type HttpErrorCode =
  | "INVALID_METHOD"
  | "INVALID_TARGET"
  | "INVALID_VERSION"
  | "UNSUPPORTED_VERSION"
  | "HTTP2_PREFACE"
  | "INVALID_HEADER_NAME"
  | "INVALID_HEADER_VALUE"
  | "OBS_FOLD"
  | "LF_EXPECTED"
  | "MISSING_HOST"
  | "INVALID_HOST"
  | "INVALID_CONTENT_LENGTH"
  | "CONTENT_LENGTH_AND_TRANSFER_ENCODING"
  | "INVALID_TRANSFER_ENCODING"
  | "INVALID_CHUNK_SIZE"
  | "INVALID_CHUNK_EXTENSION"
  | "INVALID_CHUNK_DATA"
  | "URI_TOO_LONG"
  | "HEADERS_TOO_LARGE"
  | "BODY_TOO_LARGE"
  | "UNSUPPORTED_EXPECTATION"
  | "METHOD_NOT_SUPPORTED"
  | "BODY_INCOMPLETE"
  | "BAD_REQUEST"
  | "REQUEST_TIMEOUT"
  | "PARSER_CLOSED";

const STATUS: Record<HttpErrorCode, number> = {
  INVALID_METHOD: 400,
  INVALID_TARGET: 400,
  INVALID_VERSION: 400,
  UNSUPPORTED_VERSION: 505,
  HTTP2_PREFACE: 505,
  INVALID_HEADER_NAME: 400,
  INVALID_HEADER_VALUE: 400,
  OBS_FOLD: 400,
  LF_EXPECTED: 400,
  MISSING_HOST: 400,
  INVALID_HOST: 400,
  INVALID_CONTENT_LENGTH: 400,
  CONTENT_LENGTH_AND_TRANSFER_ENCODING: 400,
  INVALID_TRANSFER_ENCODING: 400,
  INVALID_CHUNK_SIZE: 400,
  INVALID_CHUNK_EXTENSION: 400,
  INVALID_CHUNK_DATA: 400,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_EXPECTATION: 417,
  METHOD_NOT_SUPPORTED: 501,
  BODY_INCOMPLETE: 400,
  BAD_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  PARSER_CLOSED: 400,
};

/** What an application may attach to an {@link HttpError}. */
export interface HttpErrorOptions {
  /** Header fields of the answer (`www-authenticate`, `retry-after`, `allow`…). */
  headers?: HeadersInit;
  /** The error behind this one (kept as `error.cause`; never sent). */
  cause?: unknown;
}

/**
 * An error that answers with an HTTP status. Thrown from a handler (or from
 * anything it awaits), the server answers with `status`, the error's
 * `headers`, and its message as a one-line `text/plain` body. Statuses are
 * 400 to 599; the message defaults to the reason phrase.
 *
 * The parser and the body readers throw it with a named `code` instead
 * (`new HttpError("URI_TOO_LONG", "…")`), whose status comes from the code.
 * An application error has no `code` (it is `undefined`).
 *
 * @example
 * ```ts
 * import { HttpError } from "portico";
 * function requireUser(request: Request): string {
 *   const user = request.headers.get("x-user");
 *   if (user === null) {
 *     throw new HttpError(401, "sign in first", { headers: { "www-authenticate": 'Basic realm="app"' } });
 *   }
 *   return user;
 * }
 * // A named protocol error, as the parser makes them:
 * new HttpError("URI_TOO_LONG", "request-target longer than 8192 bytes").status; // 414
 * ```
 */
export class HttpError extends Error {
  /** The named protocol fault, for errors of the parser and body readers; `undefined` for application errors. */
  readonly code: HttpErrorCode | undefined;
  /** The HTTP status the server answers with. */
  readonly status: number;
  /** Header fields sent with the answer. */
  readonly headers: Headers;

  /** An application error: `status` (400–599), a message (default: the reason phrase), headers and a cause. */
  constructor(status: number, message?: string, options?: HttpErrorOptions);
  /** A named protocol error; its status comes from `code`. */
  constructor(code: HttpErrorCode, message: string, options?: HttpErrorOptions);
  constructor(statusOrCode: number | HttpErrorCode, message?: string, options: HttpErrorOptions = {}) {
    let status: number;
    let code: HttpErrorCode | undefined;
    if (typeof statusOrCode === "number") {
      if (!Number.isInteger(statusOrCode) || statusOrCode < 400 || statusOrCode > 599) {
        throw new RangeError(`HttpError status must be an integer from 400 to 599, not ${statusOrCode}`);
      }
      status = statusOrCode;
    } else {
      status = STATUS[statusOrCode];
      if (status === undefined) throw new TypeError(`unknown HttpError code ${JSON.stringify(statusOrCode)}`);
      code = statusOrCode;
    }
    super(message ?? (reasonPhrase(status) || `HTTP ${status}`), "cause" in options ? { cause: options.cause } : {});
    this.name = "HttpError";
    this.code = code;
    this.status = status;
    this.headers = new Headers(options.headers);
  }

  /**
   * The answer to this error: its status and headers, and the message as one
   * line of text (line breaks become spaces), unless the headers name
   * another content type.
   */
  toResponse(): Response {
    const headers = new Headers(this.headers);
    if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(this.message.replace(/[\r\n]+/g, " ") + "\n", { status: this.status, headers });
  }
}
