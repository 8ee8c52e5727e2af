/**
 * An incremental HTTP/1.1 request parser (RFC 9112), written as an explicit
 * state machine in the manner of llhttp: named states, named errors, strict
 * by default. It does no I/O; bytes go in through {@link RequestParser.execute}
 * in pieces of any size, down to one byte, and events come out through a
 * {@link ParserHandler}.
 *
 * Strings are cut from the input once per token (method, target, field name,
 * field value), never built a byte at a time.
 *
 * @module
 */

import { decodeAscii, FIELD_VALUE, HEX, latin1, QDTEXT, TARGET, TOKEN } from "./chars.ts";
import { HttpError } from "./errors.ts";

/** How the body of a request is framed. */
export type BodyFraming = "none" | "length" | "chunked";

/** The parsed request line and header section of one message. */
export interface RequestHead {
  /** The method token, case preserved. */
  method: string;
  /** The request-target as sent. */
  target: string;
  /** Which of RFC 9112's four request-target forms was used. */
  form: "origin" | "absolute" | "authority" | "asterisk";
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: number;
  /** Field lines as received, flattened: name, value, name, value… */
  headers: string[];
  /** The Host field value ("" when absent, as HTTP/1.0 allows). */
  host: string;
  /** Whether the connection may carry another request after this one. */
  keepAlive: boolean;
  /** `Expect: 100-continue` was sent. */
  expectContinue: boolean;
  /** How the body is delimited. */
  framing: BodyFraming;
  /** The declared length, for `framing === "length"`; else 0. */
  contentLength: number;
}

/** Receives parser events. Views passed to `onBody` are valid only during the call. */
export interface ParserHandler {
  /** The header section is complete and valid. */
  onHead(head: RequestHead): void;
  /** Body bytes (de-chunked). Copy what you keep. */
  onBody(chunk: Uint8Array): void;
  /** The message, body included, is complete. */
  onComplete(): void;
}

/** Size limits the parser enforces as bytes arrive. */
export interface ParserLimits {
  /** Longest request-target (414 beyond). */
  maxUrlBytes: number;
  /** Longest header section after the request line, trailers alike (431 beyond). */
  maxHeaderBytes: number;
  /** Largest body, declared or received (413 beyond). */
  maxBodyBytes: number;
}

/** The limits portico uses unless told otherwise. */
export const DEFAULT_LIMITS: ParserLimits = {
  maxUrlBytes: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 100 * 1024 * 1024,
};

// States. Head: request line, then field lines.
const START = 0; // before a message: leading empty lines are skipped
const START_LF = 1;
const METHOD = 2;
const TARGET_START = 3;
const TARGET_CHARS = 4;
const VERSION = 5; // matching the literal "HTTP/"
const VERSION_MAJOR = 6;
const VERSION_DOT = 7;
const VERSION_MINOR = 8;
const REQUEST_LINE_CR = 9;
const REQUEST_LINE_LF = 10;
const FIELD_START = 11;
const FIELD_NAME = 12;
const FIELD_VALUE_START = 13;
const FIELD_VALUE_CHARS = 14;
const FIELD_LF = 15;
const HEAD_END_LF = 16;
// Body.
const BODY_LENGTH = 20;
const CHUNK_SIZE_START = 21;
const CHUNK_SIZE = 22;
const CHUNK_EXT_NAME_START = 23;
const CHUNK_EXT_NAME = 24;
const CHUNK_EXT_VALUE_START = 25;
const CHUNK_EXT_VALUE = 26;
const CHUNK_EXT_QUOTED = 27;
const CHUNK_EXT_QUOTED_ESCAPE = 28;
const CHUNK_EXT_QUOTED_END = 29;
const CHUNK_SIZE_LF = 30;
const CHUNK_DATA = 31;
const CHUNK_DATA_CR = 32;
const CHUNK_DATA_LF = 33;
const TRAILER_START = 34;
const TRAILER_NAME = 35;
const TRAILER_VALUE = 36;
const TRAILER_LF = 37;
const TRAILER_END_LF = 38;
const DEAD = 99;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"
const MAX_CHUNK_EXT_BYTES = 4096;
const MAX_CHUNK_SIZE = Number.MAX_SAFE_INTEGER / 16;
// Host: reg-name, IPv4, IP-literal and port characters (RFC 3986 3.2.2).
const HOST_RE = /^[A-Za-z0-9.\-_~%!$&'()*+,;=:\[\]]*$/;
// The last Host value that passed HOST_RE: nearly every request repeats
// the one before it, and a comparison costs less than the regex (2.5% of the
// core's time on Node). It keeps one head's text alive, as the string it
// was cut from.
let lastValidHost = "";
// The last request-target. A head that repeats it, or the last valid Host,
// gets the same string rather than a new one cut from its text: nothing is
// cut, and the server's later comparisons with the last request's values
// (request_url.ts) find the same string, which costs a pointer comparison
// where two strings cut from different heads cost a comparison of their
// characters (V8's String::SlowEquals and its helpers, 0.9% of the server's
// CPU under load on Node). Keeps one head's text alive too.
let lastTarget = "";

// Whether text[start, end) reads `s`, without cutting it.
function sameText(text: string, start: number, end: number, s: string): boolean {
  return end - start === s.length && text.startsWith(s, start);
}

function isValidHost(host: string): boolean {
  if (!HOST_RE.test(host)) return false;
  lastValidHost = host;
  return true;
}

// An http(s) absolute-form target; its authority must pass HOST_RE like a
// Host field (the URL parser alone takes characters such as '"' there).
const ABSOLUTE_RE = /^https?:\/\/([^/?#@]+)/i;

// Whether the token at `at` in `text` equals `lower` (same length, lower
// case) but for case. For token characters, OR-ing 0x20 lower-cases letters
// and changes nothing that could match a letter or "-"; no string is built.
// Read in the whole head's text, not in the field name cut from it: JSC
// keeps a cut string unresolved until its characters are read, and reading
// them copies it (5% of the core's time on Bun).
function sameToken(text: string, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) if ((text.charCodeAt(at + k) | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

// The common methods as the program's own literals rather than strings cut
// from the head: a literal is interned, so comparing it, or looking it up as
// a key (a router's table by method), needs no hashing or copying of a new
// string. `length` is the method's length in `text`.
function knownMethod(text: string, length: number): string | null {
  switch (length) {
    case 3:
      if (text.startsWith("GET")) return "GET";
      if (text.startsWith("PUT")) return "PUT";
      return null;
    case 4:
      if (text.startsWith("POST")) return "POST";
      if (text.startsWith("HEAD")) return "HEAD";
      return null;
    case 5:
      return text.startsWith("PATCH") ? "PATCH" : null;
    case 6:
      return text.startsWith("DELETE") ? "DELETE" : null;
    case 7:
      return text.startsWith("OPTIONS") ? "OPTIONS" : null;
  }
  return null;
}

// Token positions of the head being parsed. A head that arrives whole, as
// nearly all do, is parsed within one execute() call, and nothing parses
// another connection's bytes meanwhile: the parsers share one array rather
// than each keeping its own (about 180 bytes per idle connection). A head
// left unfinished at the end of a chunk copies its positions out (see
// #keepPartialHead).
const SHARED_OFFSETS: number[] = [];

const CONTENT_LENGTH = Uint8Array.from("content-length", (c) => c.charCodeAt(0));

/**
 * Parses a stream of requests on one connection.
 *
 * `execute` stops at the end of each message so the caller can answer
 * requests strictly in order: it returns how many bytes it consumed, and the
 * caller feeds the rest again once it is ready for the next message.
 * Malformed input throws {@link HttpError}; the parser is dead afterwards.
 *
 * @example
 * ```ts
 * import { RequestParser } from "portico";
 * const p = new RequestParser({
 *   onHead: (h) => console.log(h.method, h.target),
 *   onBody: () => {},
 *   onComplete: () => console.log("done"),
 * });
 * p.execute(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
 * ```
 */
export class RequestParser {
  #handler: ParserHandler;
  #limits: ParserLimits;
  #state = START;
  // Head bytes that arrived in an earlier chunk, from the start of the head:
  // its strings are cut from here once the head is complete.
  #pending: Uint8Array | null = null;
  #pendingLen = 0;
  #mark = 0; // start of the current token
  #valueEnd = 0; // end of the field value without trailing whitespace
  #headStart = 0; // where the current head begins in the buffer being parsed
  #fieldsStart = 0; // offset of the first field line from the head's start
  #offsets: number[] = SHARED_OFFSETS; // token boundaries, relative to the head's start
  // How many of #offsets are this head's. A count rather than the array's
  // length: emptying an array (length = 0) is a call into V8's runtime,
  // 2% of the core's time on Node.
  #n = 0;
  #headerBytes = 0; // trailer bytes of this message
  #versionIndex = 0;
  #obsText = false; // a field value of this head has bytes above 0x7F
  // Message being built.
  #major = 0;
  #minor = 0;
  #contentLength = -1;
  // Body.
  #remaining = 0;
  #bodyBytes = 0;
  #chunkSize = 0;
  #extBytes = 0;

  /** Creates a parser that reports to `handler` and enforces `limits`. */
  constructor(handler: ParserHandler, limits: Partial<ParserLimits> = {}) {
    this.#handler = handler;
    // A server's limits are complete and frozen: shared, not copied per
    // connection (each copy held ~50 bytes for as long as the connection).
    // Anything else is copied, so that later changes to it do not apply.
    this.#limits = Object.isFrozen(limits) && limits.maxUrlBytes !== undefined &&
        limits.maxHeaderBytes !== undefined && limits.maxBodyBytes !== undefined
      ? limits as ParserLimits
      : { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * Hands this parser, idle between messages, to another handler: a server
   * keeps a few parsers for the requests in progress rather than one for
   * each open connection. Throws unless {@link RequestParser.idle}.
   *
   * @example
   * ```ts
   * import { RequestParser } from "portico";
   * const log = (tag: string) => ({ onHead: () => console.log(tag), onBody() {}, onComplete() {} });
   * const p = new RequestParser(log("first"));
   * p.execute(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n")); // first
   * p.reuse(log("second"));
   * p.execute(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n")); // second
   * ```
   */
  reuse(handler: ParserHandler): void {
    if (!this.idle) throw new Error("a parser can be reused only between messages");
    this.#handler = handler;
  }

  /** True between messages, with no bytes of the next one seen yet. */
  get idle(): boolean {
    return this.#state === START && this.#pendingLen === 0;
  }

  /**
   * Feeds bytes. Returns how many were consumed: all of them, or fewer when
   * a message completed before the end of `data`.
   */
  execute(data: Uint8Array): number {
    if (this.#state === DEAD) throw new HttpError("PARSER_CLOSED", "parser is closed after an error");
    let buf = data;
    let offset = 0; // index in buf of data[0]
    let i = 0;
    if (this.#pendingLen > 0) {
      offset = this.#pendingLen;
      buf = this.#append(data);
      i = offset;
    }
    try {
      if (this.#state < BODY_LENGTH) {
        i = this.#head(buf, i);
        if (i < 0) {
          this.#keepPartialHead(buf, offset);
          return data.length;
        }
      }
      i = this.#body(buf, i);
    } catch (e) {
      this.#state = DEAD;
      throw e;
    }
    this.#pendingLen = 0;
    return i - offset;
  }

  #append(data: Uint8Array): Uint8Array {
    const need = this.#pendingLen + data.length;
    let p = this.#pending!;
    if (p.length < need) {
      const grown = new Uint8Array(Math.max(need, p.length * 2));
      grown.set(p.subarray(0, this.#pendingLen));
      p = this.#pending = grown;
    }
    p.set(data, this.#pendingLen);
    this.#pendingLen = need;
    return p.subarray(0, need);
  }

  // Keeps the unfinished head for the next call. Token positions are
  // relative to the head's start, so they survive the move. No limit is
  // checked here: #head checks each one at the byte that crosses it, so the
  // verdict never depends on where a chunk ends (issue 18.6).
  #keepPartialHead(buf: Uint8Array, offset: number): void {
    const s = this.#state;
    const start = this.#headStart;
    const from = s === START || s === START_LF ? buf.length : start;
    const keep = buf.length - from;
    // The head goes on in a later call, after other parsers have used the
    // shared positions: this one takes its own copy.
    if (from < buf.length && this.#offsets === SHARED_OFFSETS) this.#offsets = SHARED_OFFSETS.slice(0, this.#n);
    if (offset > 0) {
      // Already in #pending: slide the kept bytes to the front.
      if (from > 0) this.#pending!.copyWithin(0, from, buf.length);
    } else {
      if (!this.#pending || this.#pending.length < keep) this.#pending = new Uint8Array(Math.max(256, keep * 2));
      this.#pending.set(buf.subarray(from));
    }
    this.#pendingLen = keep;
    this.#mark -= from;
    this.#valueEnd -= from;
    this.#headStart -= from;
  }

  // Runs the head states from i. Returns the index after the head, or -1
  // when more bytes are needed. Tokens are recorded as positions; their
  // strings are cut from one decoding of the whole head at its end.
  //
  // Every verdict is decided at one byte, in byte order, whatever the chunk
  // boundaries: a limit is checked at the byte that crosses it, before that
  // byte's syntax, and a fast scan never looks past a limit. The same bytes
  // therefore get the same error however TCP splits them.
  #head(buf: Uint8Array, i: number): number {
    const len = buf.length;
    let state = this.#state;
    const maxHeader = this.#limits.maxHeaderBytes;
    // Index of the first byte beyond the header-section limit (meaningful in
    // the field states; fieldsStart is set when the request line ends).
    let fieldLimit = this.#headStart + this.#fieldsStart + maxHeader;
    while (i < len) {
      const c = buf[i];
      // Field lines may total maxHeaderBytes; only the empty line that ends
      // the head may lie beyond.
      if (i >= fieldLimit && state >= FIELD_START && state <= FIELD_LF && (state !== FIELD_START || c !== CR)) {
        throw new HttpError("HEADERS_TOO_LARGE", `header section larger than ${maxHeader} bytes`);
      }
      switch (state) {
        case START:
          if (c === CR) state = START_LF;
          else if (TOKEN[c] === 1) {
            this.#headStart = this.#mark = i;
            this.#offsets = SHARED_OFFSETS;
            this.#n = 0;
            this.#obsText = false;
            state = METHOD;
          } else throw new HttpError(c === LF ? "LF_EXPECTED" : "INVALID_METHOD", "invalid start of request line");
          i++;
          break;
        case START_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after CR");
          state = START;
          i++;
          break;
        case METHOD: {
          while (i < len && TOKEN[buf[i]] === 1) i++;
          // Before the end-of-chunk check, so a long method fails the same
          // way in one write or many.
          if (i - this.#headStart > this.#limits.maxUrlBytes) {
            throw new HttpError("INVALID_METHOD", "method token too long");
          }
          if (i === len) break;
          if (buf[i] !== SP) throw new HttpError("INVALID_METHOD", "invalid character in method");
          this.#offsets[this.#n++] = i - this.#headStart;
          state = TARGET_START;
          i++;
          break;
        }
        case TARGET_START:
          if (TARGET[c] !== 1) throw new HttpError("INVALID_TARGET", "invalid request-target");
          this.#mark = i;
          this.#offsets[this.#n++] = i - this.#headStart;
          state = TARGET_CHARS;
          break;
        case TARGET_CHARS: {
          while (i < len && TARGET[buf[i]] === 1) i++;
          if (i - this.#mark > this.#limits.maxUrlBytes) {
            throw new HttpError("URI_TOO_LONG", `request-target longer than ${this.#limits.maxUrlBytes} bytes`);
          }
          if (i === len) break;
          if (buf[i] !== SP) {
            throw buf[i] === CR || buf[i] === LF
              ? new HttpError("INVALID_VERSION", "request line without an HTTP version")
              : new HttpError("INVALID_TARGET", "invalid character in request-target");
          }
          this.#offsets[this.#n++] = i - this.#headStart;
          this.#versionIndex = 0;
          state = VERSION;
          i++;
          break;
        }
        case VERSION:
          // The usual "HTTP/1.1" CRLF, whole in this chunk: one comparison
          // instead of ten trips through the states below.
          if (
            this.#versionIndex === 0 && i + 10 <= len && c === 0x48 && buf[i + 1] === 0x54 && buf[i + 2] === 0x54 &&
            buf[i + 3] === 0x50 && buf[i + 4] === 0x2f && buf[i + 5] === 0x31 && buf[i + 6] === 0x2e &&
            buf[i + 7] === 0x31 && buf[i + 8] === CR && buf[i + 9] === LF
          ) {
            this.#major = this.#minor = 1;
            i += 10;
            this.#fieldsStart = i - this.#headStart;
            fieldLimit = i + maxHeader;
            state = FIELD_START;
            break;
          }
          if (c !== HTTP_SLASH[this.#versionIndex]) throw new HttpError("INVALID_VERSION", "invalid HTTP version");
          if (++this.#versionIndex === 5) state = VERSION_MAJOR;
          i++;
          break;
        case VERSION_MAJOR:
          if (c < 0x30 || c > 0x39) throw new HttpError("INVALID_VERSION", "invalid HTTP version");
          this.#major = c - 0x30;
          state = VERSION_DOT;
          i++;
          break;
        case VERSION_DOT:
          if (c !== 0x2e) throw new HttpError("INVALID_VERSION", "invalid HTTP version");
          state = VERSION_MINOR;
          i++;
          break;
        case VERSION_MINOR:
          if (c < 0x30 || c > 0x39) throw new HttpError("INVALID_VERSION", "invalid HTTP version");
          this.#minor = c - 0x30;
          if (this.#major !== 1) {
            throw new HttpError("UNSUPPORTED_VERSION", `HTTP/${this.#major}.${this.#minor} is not supported`);
          }
          state = REQUEST_LINE_CR;
          i++;
          break;
        case REQUEST_LINE_CR:
          if (c !== CR) throw new HttpError("INVALID_VERSION", "expected CRLF after the HTTP version");
          state = REQUEST_LINE_LF;
          i++;
          break;
        case REQUEST_LINE_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after CR");
          state = FIELD_START;
          this.#fieldsStart = ++i - this.#headStart;
          fieldLimit = i + maxHeader;
          break;
        case FIELD_START:
          if (c === CR) {
            state = HEAD_END_LF;
            i++;
          } else if (TOKEN[c] === 1) {
            this.#offsets[this.#n++] = i - this.#headStart;
            state = FIELD_NAME;
          } else if (c === SP || c === HTAB) {
            throw new HttpError("OBS_FOLD", "obsolete line folding or whitespace before a field name");
          } else if (c === LF) {
            throw new HttpError("LF_EXPECTED", "bare LF in header section");
          } else throw new HttpError("INVALID_HEADER_NAME", "invalid character in field name");
          break;
        case FIELD_NAME: {
          const stop = len < fieldLimit ? len : fieldLimit;
          while (i < stop && TOKEN[buf[i]] === 1) i++;
          if (i === stop) break; // more bytes needed, or the limit check above throws
          if (buf[i] !== 0x3a) throw new HttpError("INVALID_HEADER_NAME", "invalid character in field name");
          this.#offsets[this.#n++] = i - this.#headStart;
          state = FIELD_VALUE_START;
          i++;
          break;
        }
        case FIELD_VALUE_START:
          if (c === SP || c === HTAB) {
            i++;
            break;
          }
          this.#mark = this.#valueEnd = i;
          state = FIELD_VALUE_CHARS;
          break;
        case FIELD_VALUE_CHARS: {
          let end = this.#valueEnd;
          let bits = 0;
          const stop = len < fieldLimit ? len : fieldLimit;
          while (i < stop) {
            const b = buf[i];
            if (FIELD_VALUE[b] !== 1) break;
            bits |= b;
            i++;
            if (b !== SP && b !== HTAB) end = i;
          }
          if (bits > 0x7f) this.#obsText = true;
          this.#valueEnd = end;
          if (i === stop) break;
          if (buf[i] !== CR) throw new HttpError("INVALID_HEADER_VALUE", "invalid character in field value");
          this.#offsets[this.#n++] = this.#mark - this.#headStart;
          this.#offsets[this.#n++] = end - this.#headStart;
          this.#early(buf);
          state = FIELD_LF;
          i++;
          break;
        }
        case FIELD_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after CR");
          i++;
          state = FIELD_START;
          break;
        case HEAD_END_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after CR");
          this.#state = state;
          this.#finishHead(
            this.#obsText ? latin1(buf, this.#headStart, i + 1) : decodeAscii(buf, this.#headStart, i + 1),
          );
          return i + 1;
      }
    }
    this.#state = state;
    return -1;
  }

  // Content-Length is read here, as soon as its line ends (and only here):
  // a bad or repeated one is rejected before the head is complete, so that a
  // client that never finishes the head still gets its 400 and the close.
  #early(buf: Uint8Array): void {
    const o = this.#offsets;
    const n = this.#n;
    if (o[n - 3] - o[n - 4] !== 14) return;
    const base = this.#headStart;
    const name = base + o[n - 4];
    // Field names are tokens: OR-ing 0x20 lower-cases letters and leaves "-".
    for (let k = 0; k < 14; k++) if ((buf[name + k] | 0x20) !== CONTENT_LENGTH[k]) return;
    this.#setContentLength(latin1(buf, base + o[n - 2], base + o[n - 1]));
  }

  #setContentLength(value: string): void {
    if (value.length === 0 || value.length > 15) {
      throw new HttpError("INVALID_CONTENT_LENGTH", "invalid Content-Length");
    }
    let n = 0;
    for (let k = 0; k < value.length; k++) {
      const d = value.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) throw new HttpError("INVALID_CONTENT_LENGTH", "invalid Content-Length");
      n = n * 10 + d;
    }
    // Even the same value twice ("5" and "5", or "5" and "05") is refused,
    // though RFC 9110 §8.6 allows merging it: a front proxy that rejects the
    // pair or reads it another way would disagree with us on where the body
    // ends (request smuggling), and llhttp refuses it too.
    if (this.#contentLength !== -1) {
      throw new HttpError("INVALID_CONTENT_LENGTH", "more than one Content-Length field");
    }
    this.#contentLength = n;
  }

  // The head is complete and its text decoded: its strings are cut, the
  // message is judged, and the handler gets it. A head's strings and its
  // header array live in locals and in the head itself, not in the parser's
  // fields: a connection's parser then holds eight fields fewer, and nothing
  // of its last request. (It was also meant to spare V8's write barrier,
  // 1.9% of the server's CPU in `RecordWrite` on node under load against
  // 0.5% for the raw loop; A/B runs measured no change in CPU per request.)
  #finishHead(text: string): void {
    const o = this.#offsets;
    const method = knownMethod(text, o[0]) ?? text.slice(0, o[0]);
    const target = sameText(text, o[1], o[2], lastTarget) ? lastTarget : (lastTarget = text.slice(o[1], o[2]));
    const count = (this.#n - 3) >> 2;
    const headers: string[] = new Array(count * 2);
    let host: string | null = null;
    let hostCount = 0;
    let transferEncoding: string | null = null;
    let connection: string | null = null;
    let expect: string | null = null;
    for (let f = 0, k = 3; f < count; f++, k += 4) {
      const at = o[k];
      let value: string;
      const isHost = o[k + 1] - at === 4 && sameToken(text, at, "host");
      if (isHost && sameText(text, o[k + 2], o[k + 3], lastValidHost)) value = lastValidHost;
      else value = text.slice(o[k + 2], o[k + 3]);
      headers[2 * f] = text.slice(at, o[k + 1]);
      headers[2 * f + 1] = value;
      switch (o[k + 1] - at) {
        case 4:
          if (isHost) {
            hostCount++;
            host = value;
          }
          break;
        case 6:
          if (sameToken(text, at, "expect")) expect = value;
          break;
        case 10:
          if (sameToken(text, at, "connection")) connection = connection === null ? value : connection + "," + value;
          break;
        case 17:
          if (sameToken(text, at, "transfer-encoding")) {
            transferEncoding = transferEncoding === null ? value : transferEncoding + "," + value;
          }
          break;
      }
    }
    if (method === "PRI") throw new HttpError("HTTP2_PREFACE", "HTTP/2 connection preface on an HTTP/1.1 port");
    const minor = this.#minor === 0 ? 0 : 1; // HTTP/1.x above 1.1 is answered as 1.1
    // Framing first: when it is broken, nothing else about the message can
    // be trusted, and the verdict names the fault a proxy would see too.
    let framing: BodyFraming = "none";
    let contentLength = 0;
    if (transferEncoding !== null) {
      if (this.#contentLength !== -1) {
        throw new HttpError("CONTENT_LENGTH_AND_TRANSFER_ENCODING", "both Content-Length and Transfer-Encoding");
      }
      if (minor === 0) throw new HttpError("INVALID_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 request");
      if (!chunkedIsFinal(transferEncoding)) {
        throw new HttpError("INVALID_TRANSFER_ENCODING", "Transfer-Encoding must end with a single chunked");
      }
      framing = "chunked";
    } else if (this.#contentLength > 0) {
      if (this.#contentLength > this.#limits.maxBodyBytes) {
        throw new HttpError("BODY_TOO_LARGE", `body larger than ${this.#limits.maxBodyBytes} bytes`);
      }
      framing = "length";
      contentLength = this.#contentLength;
    }

    let form: RequestHead["form"] = "origin";
    if (target.charCodeAt(0) !== 0x2f) {
      if (target === "*") {
        if (method !== "OPTIONS") throw new HttpError("INVALID_TARGET", "asterisk-form is only for OPTIONS");
        form = "asterisk";
      } else if (method === "CONNECT") {
        form = "authority";
      } else {
        const m = ABSOLUTE_RE.exec(target);
        if (m === null || !HOST_RE.test(m[1]) || !URL.canParse(target)) {
          throw new HttpError("INVALID_TARGET", "request-target is neither origin-form nor an http(s) absolute-form");
        }
        form = "absolute";
      }
    }
    if (minor === 1 && hostCount !== 1) {
      throw new HttpError(
        hostCount === 0 ? "MISSING_HOST" : "INVALID_HOST",
        hostCount === 0 ? "missing Host header" : "more than one Host header",
      );
    }
    const hostValue = host ?? "";
    if (hostCount > 1 || (hostValue !== lastValidHost && !isValidHost(hostValue))) {
      throw new HttpError("INVALID_HOST", "invalid Host header");
    }
    if (method === "CONNECT" || method === "TRACE" || method === "TRACK") {
      throw new HttpError("METHOD_NOT_SUPPORTED", `${method} is not supported`);
    }

    let expectContinue = false;
    if (expect !== null) {
      if (expect.toLowerCase() !== "100-continue") {
        throw new HttpError("UNSUPPORTED_EXPECTATION", `unsupported expectation: ${expect}`);
      }
      expectContinue = minor === 1;
    }

    let keepAlive = minor === 1;
    if (connection !== null) {
      for (const raw of connection.split(",")) {
        const t = raw.trim().toLowerCase();
        if (t === "close") {
          keepAlive = false;
          break;
        }
        if (t === "keep-alive") keepAlive = true;
      }
    }

    const head: RequestHead = {
      method,
      target,
      form,
      versionMinor: minor,
      headers,
      host: hostValue,
      keepAlive,
      expectContinue,
      framing,
      contentLength,
    };
    this.#contentLength = -1;
    this.#bodyBytes = 0;
    if (framing === "length") {
      this.#remaining = contentLength;
      this.#state = BODY_LENGTH;
    } else if (framing === "chunked") {
      this.#state = CHUNK_SIZE_START;
    } else {
      this.#state = START;
    }
    this.#handler.onHead(head);
    if (framing === "none") this.#handler.onComplete();
  }

  // Runs the body states from i; returns the index after the message, or
  // len when the body continues in the next chunk.
  #body(buf: Uint8Array, i: number): number {
    const len = buf.length;
    let state = this.#state;
    if (state === START) return i; // a message without body just completed
    while (i < len) {
      const c = buf[i];
      switch (state) {
        case BODY_LENGTH: {
          const n = Math.min(this.#remaining, len - i);
          this.#remaining -= n;
          if (this.#remaining === 0) {
            this.#state = START;
            this.#handler.onBody(buf.subarray(i, i + n));
            this.#handler.onComplete();
            return i + n;
          }
          this.#handler.onBody(buf.subarray(i, i + n));
          i += n;
          break;
        }
        case CHUNK_SIZE_START:
          if (HEX[c] === 255) throw new HttpError("INVALID_CHUNK_SIZE", "invalid chunk size");
          this.#chunkSize = HEX[c];
          this.#extBytes = 0;
          state = CHUNK_SIZE;
          i++;
          break;
        case CHUNK_SIZE:
          if (HEX[c] !== 255) {
            if (this.#chunkSize > MAX_CHUNK_SIZE) throw new HttpError("INVALID_CHUNK_SIZE", "chunk size too large");
            this.#chunkSize = this.#chunkSize * 16 + HEX[c];
          } else if (c === CR) state = CHUNK_SIZE_LF;
          else if (c === 0x3b) state = CHUNK_EXT_NAME_START;
          else throw new HttpError("INVALID_CHUNK_SIZE", "invalid character in chunk size");
          i++;
          break;
        case CHUNK_EXT_NAME_START:
          if (TOKEN[c] !== 1) throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid chunk extension");
          state = CHUNK_EXT_NAME;
          i = this.#extByte(i);
          break;
        case CHUNK_EXT_NAME:
          if (TOKEN[c] === 1) state = CHUNK_EXT_NAME;
          else if (c === 0x3d) state = CHUNK_EXT_VALUE_START;
          else if (c === 0x3b) state = CHUNK_EXT_NAME_START;
          else if (c === CR) state = CHUNK_SIZE_LF;
          else throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid chunk extension");
          i = this.#extByte(i);
          break;
        case CHUNK_EXT_VALUE_START:
          if (c === 0x22) state = CHUNK_EXT_QUOTED;
          else if (TOKEN[c] === 1) state = CHUNK_EXT_VALUE;
          else throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid chunk extension value");
          i = this.#extByte(i);
          break;
        case CHUNK_EXT_VALUE:
          if (TOKEN[c] === 1) state = CHUNK_EXT_VALUE;
          else if (c === 0x3b) state = CHUNK_EXT_NAME_START;
          else if (c === CR) state = CHUNK_SIZE_LF;
          else throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid chunk extension value");
          i = this.#extByte(i);
          break;
        case CHUNK_EXT_QUOTED:
          if (c === 0x22) state = CHUNK_EXT_QUOTED_END;
          else if (c === 0x5c) state = CHUNK_EXT_QUOTED_ESCAPE;
          else if (QDTEXT[c] !== 1) throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid quoted chunk extension");
          i = this.#extByte(i);
          break;
        case CHUNK_EXT_QUOTED_ESCAPE:
          if (c !== HTAB && (c < 0x20 || c === 0x7f)) {
            throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid quoted-pair");
          }
          state = CHUNK_EXT_QUOTED;
          i = this.#extByte(i);
          break;
        case CHUNK_EXT_QUOTED_END:
          if (c === 0x3b) state = CHUNK_EXT_NAME_START;
          else if (c === CR) state = CHUNK_SIZE_LF;
          else throw new HttpError("INVALID_CHUNK_EXTENSION", "invalid chunk extension after quoted value");
          i = this.#extByte(i);
          break;
        case CHUNK_SIZE_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after chunk size");
          i++;
          if (this.#chunkSize === 0) {
            state = TRAILER_START;
            this.#headerBytes = 0;
          } else {
            this.#bodyBytes += this.#chunkSize;
            if (this.#bodyBytes > this.#limits.maxBodyBytes) {
              throw new HttpError("BODY_TOO_LARGE", `body larger than ${this.#limits.maxBodyBytes} bytes`);
            }
            this.#remaining = this.#chunkSize;
            state = CHUNK_DATA;
          }
          break;
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, len - i);
          this.#remaining -= n;
          if (this.#remaining === 0) state = CHUNK_DATA_CR;
          this.#state = state;
          this.#handler.onBody(buf.subarray(i, i + n));
          i += n;
          break;
        }
        case CHUNK_DATA_CR:
          if (c !== CR) throw new HttpError("INVALID_CHUNK_DATA", "chunk data longer than its size");
          state = CHUNK_DATA_LF;
          i++;
          break;
        case CHUNK_DATA_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after chunk data");
          state = CHUNK_SIZE_START;
          i++;
          break;
        case TRAILER_START:
          if (c === CR) state = TRAILER_END_LF;
          else if (TOKEN[c] === 1) state = TRAILER_NAME;
          else {throw new HttpError(
              c === SP || c === HTAB ? "OBS_FOLD" : "INVALID_HEADER_NAME",
              "invalid trailer field",
            );}
          i = this.#trailerByte(i);
          break;
        case TRAILER_NAME:
          if (c === 0x3a) state = TRAILER_VALUE;
          else if (TOKEN[c] !== 1) throw new HttpError("INVALID_HEADER_NAME", "invalid trailer field name");
          i = this.#trailerByte(i);
          break;
        case TRAILER_VALUE:
          if (c === CR) state = TRAILER_LF;
          else if (FIELD_VALUE[c] !== 1) throw new HttpError("INVALID_HEADER_VALUE", "invalid trailer field value");
          i = this.#trailerByte(i);
          break;
        case TRAILER_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after trailer field");
          state = TRAILER_START;
          i = this.#trailerByte(i);
          break;
        case TRAILER_END_LF:
          if (c !== LF) throw new HttpError("LF_EXPECTED", "expected LF after trailer section");
          this.#state = START;
          this.#handler.onComplete();
          return i + 1;
      }
    }
    this.#state = state;
    return len;
  }

  #extByte(i: number): number {
    if (++this.#extBytes > MAX_CHUNK_EXT_BYTES) {
      throw new HttpError("INVALID_CHUNK_EXTENSION", "chunk extensions too long");
    }
    return i + 1;
  }

  #trailerByte(i: number): number {
    if (++this.#headerBytes > this.#limits.maxHeaderBytes) {
      throw new HttpError("HEADERS_TOO_LARGE", `trailer section larger than ${this.#limits.maxHeaderBytes} bytes`);
    }
    return i + 1;
  }
}

// Whether the Transfer-Encoding list (all its field lines, joined with ",")
// names chunked exactly once, as its last coding. Empty list elements
// (", chunked", "chunked ,") are ignored, as RFC 9110 §5.6.1 requires of a
// recipient; they cannot change the framing, since chunked must still be
// the final coding that is named.
function chunkedIsFinal(te: string): boolean {
  const codings = te.split(",");
  let chunked = 0;
  let last = "";
  for (let k = 0; k < codings.length; k++) {
    const c = codings[k].trim().toLowerCase();
    if (c === "") continue;
    if (c === "chunked") chunked++;
    else if (chunked > 0) return false;
    last = c;
  }
  return chunked === 1 && last === "chunked";
}
