/**
 * Client-side WebSocket frame tools for wire-level tests: masked frames as a
 * client sends them, and a parser for the server's (unmasked) frames.
 */

export interface FrameOptions {
  fin?: boolean;
  /** RSV bits as a 3-bit number (4 = RSV1). */
  rsv?: number;
  /** false sends an unmasked frame (a protocol error from a client). */
  mask?: boolean;
  maskKey?: Uint8Array;
  /** Encode the length with 16 or 64 bits even when smaller (non-minimal). */
  lengthBytes?: 0 | 2 | 8;
}

const enc = new TextEncoder();

export function bytesOf(data: string | Uint8Array | number[]): Uint8Array {
  return typeof data === "string" ? enc.encode(data) : data instanceof Uint8Array ? data : new Uint8Array(data);
}

/** A client frame (masked unless `mask: false`). */
export function clientFrame(opcode: number, data: string | Uint8Array | number[] = "", o: FrameOptions = {}): Uint8Array {
  const payload = bytesOf(data);
  const n = payload.byteLength;
  const mask = o.mask ?? true;
  const lb = o.lengthBytes ?? (n < 126 ? 0 : n < 65536 ? 2 : 8);
  const head = 2 + lb + (mask ? 4 : 0);
  const f = new Uint8Array(head + n);
  f[0] = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  f[1] = (mask ? 0x80 : 0) | (lb === 0 ? n : lb === 2 ? 126 : 127);
  if (lb === 2) {
    f[2] = n >>> 8;
    f[3] = n & 0xff;
  } else if (lb === 8) {
    new DataView(f.buffer).setBigUint64(2, BigInt(n));
  }
  const key = o.maskKey ?? crypto.getRandomValues(new Uint8Array(4));
  if (mask) f.set(key, 2 + lb);
  for (let i = 0; i < n; i++) f[head + i] = mask ? payload[i] ^ key[i & 3] : payload[i];
  return f;
}

/** A close frame's payload. */
export function closeBody(code: number, reason = ""): Uint8Array {
  const r = enc.encode(reason);
  const p = new Uint8Array(2 + r.byteLength);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return p;
}

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  /** The payload as UTF-8 text. */
  text: string;
  /** For a close frame: its code (1005 when absent) and reason. */
  code?: number;
  reason?: string;
}

/** Parses every whole frame in `bytes`; `rest` is what is left of an incomplete one. */
export function parseFrames(bytes: Uint8Array): { frames: ServerFrame[]; rest: Uint8Array } {
  const frames: ServerFrame[] = [];
  let p = 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (bytes.byteLength - p >= 2) {
    const b0 = bytes[p];
    const b1 = bytes[p + 1];
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) {
      if (bytes.byteLength - p < 4) break;
      len = dv.getUint16(p + 2);
      h = 4;
    } else if (len === 127) {
      if (bytes.byteLength - p < 10) break;
      len = Number(dv.getBigUint64(p + 2));
      h = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) h += 4;
    if (bytes.byteLength - p < h + len) break;
    let payload = bytes.slice(p + h, p + h + len);
    if (masked) {
      const key = bytes.subarray(p + h - 4, p + h);
      payload = payload.map((b, i) => b ^ key[i & 3]);
    }
    const f: ServerFrame = {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      masked,
      payload,
      text: new TextDecoder().decode(payload),
    };
    if (f.opcode === 8) {
      f.code = len >= 2 ? (payload[0] << 8) | payload[1] : 1005;
      f.reason = new TextDecoder().decode(payload.subarray(2));
    }
    frames.push(f);
    p += h + len;
  }
  return { frames, rest: bytes.slice(p) };
}
