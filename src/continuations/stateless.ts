/**
 * Stateless continuations: the replay log travels in the k-URL itself, so
 * that no server keeps state and any process that shares the secret can
 * resume it.
 *
 * Token = base64url(payload ‖ HMAC-SHA-256(secret, scope ‖ payload)), where
 * payload = version (1 byte) ‖ expiry (uint32 seconds since the epoch) ‖
 * purpose (1 byte: 0 a `sendSuspend` URL, 1 a dispatch page) ‖
 * deflate-raw(JSON({ i: instance id, l: log })), and scope =
 * JSON(["portico/k/2", id option, the servlet's mount path, version option]).
 *
 * What the signature protects: a token cannot be forged, altered,
 * truncated or extended without the secret, and an expired one is refused;
 * so the servlet only ever replays inputs it produced itself. The scope is
 * signed but not carried: a token minted by one servlet (another mount path
 * or `id`) or by another `version` of its code fails verification on every
 * other, even when they share the secret, and the purpose byte keeps a
 * plain k-URL from being used as a dispatch link and the other way round.
 * What it does not: the log is signed, not encrypted — whoever holds the
 * URL can decode the inputs it carries (form fields included), and can
 * replay it until it expires. Keep secrets out of stateless servlets, or
 * encrypt them yourself. The index of an embedded URL (`/s/<token>/<n>`) is
 * outside the signature: changing it picks another link of the same signed
 * page, which the user could have clicked anyway (an index past the page's
 * links gets 400 when the replay reaches that page).
 *
 * @module
 */

import { readAll } from "../http/bytes.ts";
import { fromBase64Url, toBase64Url } from "./base64.ts";
import type { Entry } from "./log.ts";

/** Options of stateless mode. */
export interface StatelessOptions {
  /** The HMAC secret; every process that resumes these URLs needs the same one. */
  secret: string;
  /** How long a k-URL stays valid, in ms. Default 1 hour. */
  ttl?: number;
  /**
   * Longest token allowed. A log that would not fit answers the request
   * that made it with 413 (its input was in the body) or 414 (in the URL).
   * Default 4096.
   */
  maxUrlBytes?: number;
  /**
   * Names the servlet in its tokens, on top of its mount path. Give two
   * servlets mounted at the same path (on different servers that share the
   * secret) different ids. Default "".
   */
  id?: string;
  /**
   * The version of the servlet's code. Tokens minted under another version
   * get 400: change it when a change to the servlet would make old logs
   * replay differently. Default "".
   */
  version?: string;
}

/** What a token is for, signed with it: which servlet issued it and what kind of page. */
export interface TokenScope {
  /** The issuing servlet's mount path: a token verifies only under the same one (and the codec's `id`). */
  servlet: string;
  /** Made by `sendSuspendDispatch`: its URLs carry an embedded-link index. */
  dispatch: boolean;
}

/** What decoding a token found. */
export type Decoded =
  | { instance: string; log: Entry[]; dispatch: boolean }
  | "expired"
  | "invalid";

/** Thrown by `encode` when a token would exceed `maxUrlBytes`. */
export class TokenTooLongError extends Error {
  /** The token's length. */
  readonly length: number;
  /** The limit. */
  readonly limit: number;
  /** Describes a token of `length` bytes over `limit`. */
  constructor(length: number, limit: number) {
    super(
      `stateless continuation of ${length} bytes exceeds maxUrlBytes (${limit}): ` +
        `the servlet carries too much input in its URLs; keep less state or use a continuation manager`,
    );
    this.name = "TokenTooLongError";
    this.length = length;
    this.limit = limit;
  }
}

const VERSION = 2;
const HEAD = 6; // version, expiry, purpose
const DEFAULT_SCOPE: TokenScope = { servlet: "", dispatch: false };
const MAC_BYTES = 32;
const MAX_LOG_BYTES = 1024 * 1024; // a decompression limit, against deflate bombs
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function transform(
  data: Uint8Array<ArrayBuffer>,
  stream: CompressionStream | DecompressionStream,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  return readAll(new Blob([data]).stream().pipeThrough(stream), limit, () => new Error("continuation log too large"));
}

/**
 * Encodes and verifies stateless continuation tokens.
 *
 * @example
 * ```ts
 * import { StatelessCodec } from "portico/continuations";
 * const codec = new StatelessCodec({ secret: "s3cret" });
 * const token = await codec.encode("instance", [{ t: "rec", v: 1 }]);
 * await codec.decode(token); // { instance: "instance", log: [{ t: "rec", v: 1 }] }
 * ```
 */
export class StatelessCodec {
  /** Validity of new tokens, in ms. */
  readonly ttl: number;
  /** Longest token. */
  readonly maxUrlBytes: number;
  #key: Promise<CryptoKey>;
  #id: string;
  #version: string;

  /** Imports the secret as an HMAC-SHA-256 key. */
  constructor(options: StatelessOptions) {
    if (!options.secret) throw new TypeError("stateless mode needs a secret");
    this.ttl = options.ttl ?? 60 * 60_000;
    this.maxUrlBytes = options.maxUrlBytes ?? 4096;
    this.#id = options.id ?? "";
    this.#version = options.version ?? "";
    this.#key = crypto.subtle.importKey(
      "raw",
      encoder.encode(options.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  /**
   * A signed, compressed, expiring token for `log`, bound to `scope`.
   * Throws a {@link TokenTooLongError} when it would exceed `maxUrlBytes`.
   */
  async encode(instance: string, log: Entry[], scope: TokenScope = DEFAULT_SCOPE): Promise<string> {
    const body = await transform(
      encoder.encode(JSON.stringify({ i: instance, l: log })),
      new CompressionStream("deflate-raw"),
      Infinity,
    );
    const payload = new Uint8Array(HEAD + body.length);
    const view = new DataView(payload.buffer);
    payload[0] = VERSION;
    view.setUint32(1, Math.floor((Date.now() + this.ttl) / 1000));
    payload[5] = scope.dispatch ? 1 : 0;
    payload.set(body, HEAD);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, this.#signed(scope, payload)));
    const all = new Uint8Array(payload.length + MAC_BYTES);
    all.set(payload);
    all.set(mac, payload.length);
    const token = toBase64Url(all);
    if (token.length > this.maxUrlBytes) throw new TokenTooLongError(token.length, this.maxUrlBytes);
    return token;
  }

  /**
   * Verifies and decodes a token minted for the servlet named `servlet`
   * (see {@link TokenScope}); never returns a log that was not signed with
   * the secret for that servlet and this codec's `id` and `version`.
   */
  async decode(token: string, servlet = ""): Promise<Decoded> {
    const all = fromBase64Url(token);
    if (all === null || all.length < HEAD + MAC_BYTES + 1) return "invalid";
    const payload = all.subarray(0, all.length - MAC_BYTES);
    const mac = all.subarray(all.length - MAC_BYTES);
    const view = new DataView(payload.buffer, payload.byteOffset);
    if (payload[0] !== VERSION || payload[5] > 1) return "invalid";
    const scope = { servlet, dispatch: payload[5] === 1 };
    const ok = await crypto.subtle.verify("HMAC", await this.#key, mac, this.#signed(scope, payload));
    if (!ok) return "invalid";
    const expires = view.getUint32(1) * 1000;
    if (Date.now() >= expires) return "expired";
    try {
      const json = await transform(payload.slice(HEAD), new DecompressionStream("deflate-raw"), MAX_LOG_BYTES);
      const parsed = JSON.parse(decoder.decode(json)) as { i: string; l: Entry[] };
      if (typeof parsed.i !== "string" || !Array.isArray(parsed.l)) return "invalid";
      return { instance: parsed.i, log: parsed.l, dispatch: scope.dispatch };
    } catch {
      return "invalid";
    }
  }

  // What the MAC covers: the scope (not carried in the token, so a verifier
  // recomputes it from where the token arrived) and the payload.
  #signed(scope: TokenScope, payload: Uint8Array): Uint8Array<ArrayBuffer> {
    const context = encoder.encode(JSON.stringify(["portico/k/2", this.#id, scope.servlet, this.#version]));
    const out = new Uint8Array(context.length + payload.length);
    out.set(context);
    out.set(payload, context.length);
    return out;
  }
}
