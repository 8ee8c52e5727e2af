/**
 * Named parse errors, after llhttp: every way a request can be malformed has
 * a code, and every code maps to the status the server answers with.
 *
 * @module
 */

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
  | "REQUEST_TIMEOUT";

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
};

/**
 * A request the server refuses, with the status it answers.
 *
 * Reading a request body whose framing turns out to be bad rejects with this
 * error too; a handler that lets it propagate gets the error's status (400,
 * 413) instead of a 500.
 *
 * @example
 * ```ts
 * import { HttpError } from "portico";
 * const e = new HttpError("URI_TOO_LONG", "request-target longer than 8192 bytes");
 * e.status; // 414
 * ```
 */
export class HttpError extends Error {
  /** The named reason. */
  readonly code: HttpErrorCode;
  /** The HTTP status the server answers with. */
  readonly status: number;

  /** Makes an error for `code`, with a message that says what was wrong. */
  constructor(code: HttpErrorCode, message: string) {
    super(message);
    this.name = "HttpError";
    this.code = code;
    this.status = STATUS[code];
  }
}
