/**
 * permessage-deflate (RFC 7692): negotiation, and the per-socket compressor
 * and decompressor on `node:zlib`, which Node, Deno and Bun all provide.
 *
 * zlib's streams are asynchronous, so a compressed message is inflated
 * between turns of the event loop; the receiver stops reading the socket
 * meanwhile, which keeps frames in order and bounds what is buffered.
 *
 * @module
 */

import zlib from "node:zlib";

/** The parameters agreed for one connection. */
export interface DeflateParams {
  /** The server resets its compressor after every message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message (we then reset our decompressor too). */
  clientNoContextTakeover: boolean;
  /** LZ77 window of the server's compressor, 9–15. */
  serverMaxWindowBits: number;
  /** The window the client agreed to use, when it asked to be told one. */
  clientMaxWindowBits: number | undefined;
}

/** One extension offer: its name and its parameters in order (value `true` when bare). */
interface Offer {
  name: string;
  params: [string, string | true][];
}

/** Splits a `Sec-WebSocket-Extensions` value into offers. Quotes around values are removed. */
function parseOffers(header: string): Offer[] {
  const offers: Offer[] = [];
  for (const part of header.split(",")) {
    const [name, ...rest] = part.split(";").map((s) => s.trim());
    if (!name) continue;
    const params: [string, string | true][] = [];
    for (const p of rest) {
      if (!p) continue;
      const eq = p.indexOf("=");
      if (eq < 0) params.push([p.toLowerCase(), true]);
      else {
        let v = p.slice(eq + 1).trim();
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        params.push([p.slice(0, eq).trim().toLowerCase(), v]);
      }
    }
    offers.push({ name: name.toLowerCase(), params });
  }
  return offers;
}

/** A window-bits value: the digits 8–15, nothing else. */
function windowBits(v: string): number | undefined {
  return /^(8|9|1[0-5])$/.test(v) ? Number(v) : undefined;
}

/** Accepts one permessage-deflate offer, or returns undefined to decline it (RFC 7692 §7.1). */
function acceptOffer(offer: Offer): DeflateParams | undefined {
  const seen = new Set<string>();
  const params: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return undefined;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return undefined;
        if (name === "server_no_context_takeover") params.serverNoContextTakeover = true;
        else params.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = value === true ? undefined : windowBits(value);
        // zlib's raw deflate cannot use a 256-byte window (it silently uses
        // 512), so an offer that demands 8 is declined rather than broken.
        if (bits === undefined || bits === 8) return undefined;
        params.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        // Bare: the client lets us pick. Our decompressor always uses a
        // 32 KiB window, which inflates any smaller one, so we take the
        // client's value (or 15) and only tell it back.
        const bits = value === true ? 15 : windowBits(value);
        if (bits === undefined) return undefined;
        params.clientMaxWindowBits = bits;
        break;
      }
      default:
        return undefined;
    }
  }
  return params;
}

/**
 * Picks the first acceptable permessage-deflate offer of a
 * `Sec-WebSocket-Extensions` request header, if any.
 */
export function negotiateDeflate(header: string | null): DeflateParams | undefined {
  if (!header) return undefined;
  for (const offer of parseOffers(header)) {
    if (offer.name !== "permessage-deflate") continue;
    const params = acceptOffer(offer);
    if (params) return params;
  }
  return undefined;
}

/** The `Sec-WebSocket-Extensions` response value for agreed parameters. */
export function deflateResponseHeader(p: DeflateParams): string {
  let s = "permessage-deflate";
  if (p.serverNoContextTakeover) s += "; server_no_context_takeover";
  if (p.clientNoContextTakeover) s += "; client_no_context_takeover";
  if (p.serverMaxWindowBits !== 15) s += `; server_max_window_bits=${p.serverMaxWindowBits}`;
  if (p.clientMaxWindowBits !== undefined) s += `; client_max_window_bits=${p.clientMaxWindowBits}`;
  return s;
}

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Thrown (as a rejection) when inflating would exceed the limit. */
export class InflateLimitError extends Error {
  constructor() {
    super("message exceeds maxPayload after decompression");
    this.name = "InflateLimitError";
  }
}

/**
 * A connection's compressor and decompressor, created on first use (a zlib
 * deflate stream with a 32 KiB window holds about 256 KiB).
 */
export class DeflateCodec {
  readonly params: DeflateParams;
  #inflate: zlib.InflateRaw | null = null;
  #deflate: zlib.DeflateRaw | null = null;
  /** Receives decompressed bytes of the frame being inflated; returns false to stop. */
  #sink: ((chunk: Uint8Array) => boolean) | null = null;
  #failed = false;
  /** Settles the frame being inflated (false: failed). */
  #inflateDone: ((ok: boolean) => void) | null = null;
  /** The message being compressed: its output, and its rejection. */
  #deflateData: ((chunk: Uint8Array) => void) | null = null;
  #deflateFailed: ((e: Error) => void) | null = null;

  constructor(params: DeflateParams) {
    this.params = params;
  }

  /**
   * Inflates one frame's payload, handing the output to `sink` chunk by
   * chunk (at most zlib's 16 KiB chunk size each, so a compression bomb never
   * gets buffered); `fin` appends the message's stripped tail. When `sink`
   * returns false the decompressor is destroyed at once and the promise
   * resolves with false: the connection is failing anyway.
   */
  inflate(data: Uint8Array, fin: boolean, sink: (chunk: Uint8Array) => boolean): Promise<boolean> {
    if (this.#failed) return Promise.resolve(false);
    const z = this.#inflate ??= this.#newInflate();
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        this.#sink = null;
        this.#inflateDone = null;
        resolve(ok);
      };
      this.#inflateDone = done;
      this.#sink = (chunk) => {
        if (sink(chunk)) return true;
        this.#failed = true;
        z.destroy();
        done(false);
        return false;
      };
      z.write(data);
      if (fin) z.write(TAIL);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        // Deno's node:zlib calls this before it emits the error for the same
        // data (Node's and Bun's emit the error and never call it): the
        // verdict waits one microtask, by which time the error has come.
        queueMicrotask(() => {
          if (fin && this.params.clientNoContextTakeover && !this.#failed) z.reset();
          done(!this.#failed);
        });
      });
    });
  }

  // The decompressor's error listener stays for its whole life: an error
  // emitted with no listener is thrown, and on Deno it came after a
  // per-frame listener had been removed, which killed the process.
  #newInflate(): zlib.InflateRaw {
    const z = zlib.createInflateRaw({ windowBits: 15 });
    z.on("data", (chunk: Uint8Array) => {
      // After a stop, zlib may still emit what it had produced: dropped.
      if (this.#sink !== null) this.#sink(chunk);
    });
    z.on("error", () => {
      this.#failed = true;
      this.#inflateDone?.(false);
    });
    return z;
  }

  /** Compresses one whole message; resolves with the payload (tail stripped), or rejects on a zlib error. */
  deflate(data: Uint8Array): Promise<Uint8Array> {
    const z = this.#deflate ??= this.#newDeflate();
    return new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      let total = 0;
      let settled = false;
      this.#deflateData = (c) => {
        chunks.push(c);
        total += c.byteLength;
      };
      this.#deflateFailed = (e) => {
        if (settled) return;
        settled = true;
        this.#deflateData = this.#deflateFailed = null;
        reject(e);
      };
      z.write(data);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        // As in inflate(): an error for this data may follow on Deno.
        queueMicrotask(() => {
          if (settled) return;
          settled = true;
          this.#deflateData = this.#deflateFailed = null;
          if (this.params.serverNoContextTakeover) z.reset();
          const out = new Uint8Array(total);
          let at = 0;
          for (const c of chunks) {
            out.set(c, at);
            at += c.byteLength;
          }
          // A sync flush always ends with the empty stored block 00 00 ff ff,
          // which RFC 7692 §7.2.1 says to remove.
          resolve(out.subarray(0, Math.max(0, total - 4)));
        });
      });
    });
  }

  #newDeflate(): zlib.DeflateRaw {
    const z = zlib.createDeflateRaw({ windowBits: this.params.serverMaxWindowBits });
    z.on("data", (c: Uint8Array) => this.#deflateData?.(c));
    z.on("error", (e: Error) => this.#deflateFailed?.(e));
    return z;
  }

  /** Frees both zlib streams. */
  close(): void {
    this.#failed = true;
    // A destroyed stream calls neither flush's callback nor "error": settle what waits.
    this.#inflateDone?.(false);
    this.#deflateFailed?.(new Error("the WebSocket closed"));
    this.#inflate?.destroy();
    this.#deflate?.destroy();
    this.#inflate = this.#deflate = null;
  }
}
