/**
 * Stateless continuations: the replay log travels in the k-URL itself, so
 * that no server keeps state and any process that shares the secret can
 * resume it.
 *
 * Token = base64url(payload ‖ HMAC-SHA-256(secret, payload)), where payload
 * = version (1 byte) ‖ expiry (uint32 seconds since the epoch) ‖
 * deflate-raw(JSON({ i: instance id, l: log })).
 *
 * What the signature protects: a token cannot be forged, altered,
 * truncated or extended without the secret, and an expired one is refused;
 * so the servlet only ever replays inputs it produced itself. What it does
 * not: the log is signed, not encrypted — whoever holds the URL can decode
 * the inputs it carries (form fields included), and can replay it until it
 * expires. Keep secrets out of stateless servlets, or encrypt them yourself.
 * The index of an embedded URL (`/s/<token>/<n>`) is outside the signature:
 * changing it picks another link of the same signed page, which the user
 * could have clicked anyway.
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
  /** Longest token allowed; a longer log fails when the page is built. Default 4096. */
  maxUrlBytes?: number;
}

/** What decoding a token found. */
export type Decoded = { instance: string; log: Entry[] } | "expired" | "invalid";

const VERSION = 1;
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
 * import { StatelessCodec } from "portico";
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

  /** Imports the secret as an HMAC-SHA-256 key. */
  constructor(options: StatelessOptions) {
    if (!options.secret) throw new TypeError("stateless mode needs a secret");
    this.ttl = options.ttl ?? 60 * 60_000;
    this.maxUrlBytes = options.maxUrlBytes ?? 4096;
    this.#key = crypto.subtle.importKey(
      "raw",
      encoder.encode(options.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  /** A signed, compressed, expiring token for `log`. Throws when it would exceed `maxUrlBytes`. */
  async encode(instance: string, log: Entry[]): Promise<string> {
    const body = await transform(
      encoder.encode(JSON.stringify({ i: instance, l: log })),
      new CompressionStream("deflate-raw"),
      Infinity,
    );
    const payload = new Uint8Array(5 + body.length);
    payload[0] = VERSION;
    new DataView(payload.buffer).setUint32(1, Math.floor((Date.now() + this.ttl) / 1000));
    payload.set(body, 5);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, payload));
    const all = new Uint8Array(payload.length + MAC_BYTES);
    all.set(payload);
    all.set(mac, payload.length);
    const token = toBase64Url(all);
    if (token.length > this.maxUrlBytes) {
      throw new Error(
        `stateless continuation of ${token.length} bytes exceeds maxUrlBytes (${this.maxUrlBytes}): ` +
          `the servlet carries too much input in its URLs; keep less state or use a continuation manager`,
      );
    }
    return token;
  }

  /** Verifies and decodes a token; never returns a log that was not signed with the secret. */
  async decode(token: string): Promise<Decoded> {
    const all = fromBase64Url(token);
    if (all === null || all.length < 5 + MAC_BYTES + 1) return "invalid";
    const payload = all.subarray(0, all.length - MAC_BYTES);
    const mac = all.subarray(all.length - MAC_BYTES);
    const ok = await crypto.subtle.verify("HMAC", await this.#key, mac, payload);
    if (!ok || payload[0] !== VERSION) return "invalid";
    const expires = new DataView(payload.buffer, payload.byteOffset).getUint32(1) * 1000;
    if (Date.now() >= expires) return "expired";
    try {
      const json = await transform(payload.slice(5), new DecompressionStream("deflate-raw"), MAX_LOG_BYTES);
      const parsed = JSON.parse(decoder.decode(json)) as { i: string; l: Entry[] };
      if (typeof parsed.i !== "string" || !Array.isArray(parsed.l)) return "invalid";
      return { instance: parsed.i, log: parsed.l };
    } catch {
      return "invalid";
    }
  }
}
