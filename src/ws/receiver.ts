/**
 * The incremental frame reader of a server-side WebSocket (RFC 6455 §5),
 * with the checks a server must make: client frames masked, no reserved bits
 * or opcodes, control frames whole and short, continuation frames only inside
 * a message, text valid UTF-8 (checked piece by piece as bytes arrive, so an
 * invalid sequence fails at once, even split across fragments), messages no
 * larger than `maxPayload` (after decompression).
 *
 * @module
 */

import type { DeflateCodec } from "./deflate.ts";
import {
  CLOSE_INVALID_DATA,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  copyBytes,
  isValidWireCloseCode,
  OP_BINARY,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./frame.ts";

/** What the receiver reports, in wire order. */
export interface ReceiverSink {
  /** A whole text message. */
  onText(text: string): void;
  /** A whole binary message. The bytes are the receiver's own: keep them. */
  onBinary(data: Uint8Array): void;
  /** A ping, with its payload. */
  onPing(payload: Uint8Array): void;
  /** A pong, with its payload. */
  onPong(payload: Uint8Array): void;
  /** A close frame; `code` is 1005 when the frame had none. Nothing is read after it. */
  onCloseFrame(code: number, reason: string): void;
  /** The peer broke the protocol: fail the connection with `code`. Nothing is read after it. */
  onProtocolError(code: number, reason: string): void;
  /** Stop reading the socket (a message is being decompressed). */
  pause(): void;
  /** Read the socket again. */
  resume(): void;
}

const HEADER = 0;
const PAYLOAD = 1;

const fatal = new TextDecoder("utf-8", { fatal: true });
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/**
 * Parses frames from the bytes of one connection and reports messages to a
 * {@link ReceiverSink}.
 */
export class Receiver {
  readonly #sink: ReceiverSink;
  readonly #maxPayload: number;
  /** Compressed bytes one message may have: incompressible data grows a little under deflate. */
  readonly #maxCompressed: number;
  readonly #codec: DeflateCodec | undefined;

  #state = HEADER;
  #dead = false;
  /** A partial frame header carried over from the previous chunk. */
  #head: Uint8Array | null = null;
  /** Owned chunks waiting while a message is being inflated. */
  #queue: Uint8Array[] = [];
  #busy = false;

  // The frame being read.
  #fin = false;
  #opcode = 0;
  #len = 0;
  #got = 0;
  #payload: Uint8Array = EMPTY;
  #mask = new Uint8Array(4);
  #mask32 = new Uint32Array(this.#mask.buffer);

  // The message being assembled.
  #msgOpcode = 0;
  #msgCompressed = false;
  #msgSize = 0;
  #wireSize = 0;
  // The message's bytes: its first piece as it came (a one-frame message is
  // never copied), then, from the second piece on, one buffer that doubles
  // as it fills (capped at maxPayload). Kept as a list of pieces, a message
  // of 1-byte fragments cost 100–400 bytes of memory per byte, and text
  // joined string by string 35–55: a client could make a 16 MiB message
  // cost gigabytes.
  #first: Uint8Array | null = null;
  #buf: Uint8Array = EMPTY;
  #size = 0;
  /** A one-frame text message, decoded at once; null otherwise (its bytes are in #first/#buf). */
  #text: string | null = null;
  #decoder: TextDecoder | null = null;
  /** The decoder holds state of the current message (a streaming decode ran). */
  #streaming = false;

  /** Creates a receiver; `codec` is set when permessage-deflate was agreed. */
  constructor(sink: ReceiverSink, maxPayload: number, codec?: DeflateCodec) {
    this.#sink = sink;
    this.#maxPayload = maxPayload;
    this.#maxCompressed = maxPayload + Math.floor(maxPayload / 64) + 1024;
    this.#codec = codec;
  }

  /** True once a close frame or a protocol error ended reading. */
  get done(): boolean {
    return this.#dead;
  }

  /** Stops everything: later bytes are ignored. */
  stop(): void {
    this.#dead = true;
    this.#queue = [];
  }

  /** Feeds bytes. `chunk` is only read during the call. */
  push(chunk: Uint8Array): void {
    if (this.#dead) return;
    if (this.#busy) {
      this.#queue.push(copyBytes(chunk));
      return;
    }
    this.#process(chunk);
  }

  #process(input: Uint8Array): void {
    let data = input;
    if (this.#head !== null) {
      data = new Uint8Array(this.#head.byteLength + input.byteLength);
      data.set(this.#head);
      data.set(input, this.#head.byteLength);
      this.#head = null;
    }
    let pos = 0;
    const end = data.byteLength;
    while (!this.#dead) {
      if (this.#state === HEADER) {
        const used = this.#readHeader(data, pos, end);
        if (used === 0) {
          if (pos < end) this.#head = copyBytes(data, pos, end);
          return;
        }
        if (used < 0) return; // failed
        pos += used;
        this.#state = PAYLOAD;
        if (this.#len === 0) {
          this.#state = HEADER;
          this.#frameDone();
          if (this.#busy) {
            if (pos < end) this.#queue.unshift(copyBytes(data, pos, end));
            return;
          }
        }
        continue;
      }
      // PAYLOAD
      if (pos >= end) return;
      const plainText = this.#opcode < 8 && this.#msgOpcode === OP_TEXT && !this.#msgCompressed;
      if (this.#got === 0) {
        // A one-frame message (not a fragment of a longer one).
        const single = this.#fin && this.#opcode !== OP_CONTINUATION;
        if (
          (plainText || (!single && this.#opcode < 8 && !this.#msgCompressed)) &&
          end - pos >= this.#len && this.#len <= SCRATCH_MAX
        ) {
          // The whole frame is here, and it is text or a fragment: unmask it
          // into the shared scratch buffer; a one-frame text is decoded at
          // once, a fragment's bytes are added to the message's buffer. No
          // buffer is allocated per frame (a message of 1-byte fragments
          // would make one garbage buffer per byte).
          const buf = scratchFor(this.#len).subarray(0, this.#len);
          buf.set(data.subarray(pos, pos + this.#len));
          unmask(buf, 0, this.#len, this.#mask, this.#mask32[0]);
          pos += this.#len;
          if (plainText) {
            if (!this.#decodeText(buf, single, false)) return;
          } else this.#keep(buf, false);
          this.#state = HEADER;
          this.#frameDone();
          continue;
        }
        this.#payload = new Uint8Array(this.#len);
      }
      const n = Math.min(this.#len - this.#got, end - pos);
      const at = this.#got;
      this.#payload.set(data.subarray(pos, pos + n), at);
      unmask(this.#payload, at, n, this.#mask, this.#mask32[0]);
      this.#got += n;
      pos += n;
      // Checked as it comes; kept whole with the frame's payload (frameDone).
      if (plainText && !this.#checkText(this.#payload.subarray(at, at + n))) return;
      if (this.#got < this.#len) return;
      this.#state = HEADER;
      this.#frameDone();
      if (this.#busy) {
        if (pos < end) this.#queue.unshift(copyBytes(data, pos, end));
        return;
      }
    }
  }

  /**
   * Reads a frame header at `pos`. Returns its length, 0 when incomplete, or
   * -1 when it broke a rule (the connection is then failing).
   */
  #readHeader(d: Uint8Array, pos: number, end: number): number {
    if (end - pos < 2) return 0;
    const b0 = d[pos];
    const b1 = d[pos + 1];
    const len7 = b1 & 0x7f;
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    if ((b1 & 0x80) === 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "client frames must be masked");
    if (end - pos < size) {
      // Check what is already known, so that a bad frame fails before its tail arrives.
      const early = this.#checkStart(b0, len7);
      return early < 0 ? early : 0;
    }
    if (this.#checkStart(b0, len7) < 0) return -1;
    let len = len7;
    let p = pos + 2;
    if (len7 === 126) {
      len = (d[p] << 8) | d[p + 1];
      p += 2;
    } else if (len7 === 127) {
      const hi = ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
      const lo = ((d[p + 4] << 24) | (d[p + 5] << 16) | (d[p + 6] << 8) | d[p + 7]) >>> 0;
      if (hi & 0x80000000) {
        return this.#fail(CLOSE_PROTOCOL_ERROR, "the most significant bit of a 64-bit length must be 0");
      }
      // Anything this large is over every limit; avoid losing precision.
      len = hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + lo;
      p += 8;
    }
    const opcode = b0 & 0x0f;
    if (opcode < 8) {
      if (this.#msgCompressed || (b0 & 0x40) !== 0) {
        if (this.#wireSize + len > this.#maxCompressed) {
          return this.#fail(CLOSE_TOO_BIG, `message exceeds maxPayload (${this.#maxPayload} bytes)`);
        }
      } else if (this.#msgSize + len > this.#maxPayload) {
        return this.#fail(CLOSE_TOO_BIG, `message exceeds maxPayload (${this.#maxPayload} bytes)`);
      }
    }
    this.#mask[0] = d[p];
    this.#mask[1] = d[p + 1];
    this.#mask[2] = d[p + 2];
    this.#mask[3] = d[p + 3];
    this.#fin = (b0 & 0x80) !== 0;
    this.#opcode = opcode;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      this.#msgOpcode = opcode;
      this.#msgCompressed = (b0 & 0x40) !== 0;
    }
    this.#len = len;
    this.#got = 0;
    this.#payload = EMPTY;
    return size;
  }

  /** The checks that need only the first two bytes. Returns -1 after failing, else 0. */
  #checkStart(b0: number, len7: number): number {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if ((b0 & 0x30) !== 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "reserved bits RSV2/RSV3 set");
    if (opcode >= 8) {
      if (opcode > OP_PONG) return this.#fail(CLOSE_PROTOCOL_ERROR, `reserved opcode 0x${opcode.toString(16)}`);
      if (!fin) return this.#fail(CLOSE_PROTOCOL_ERROR, "control frames must not be fragmented");
      if (len7 > 125) return this.#fail(CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes");
      if ((b0 & 0x40) !== 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "RSV1 set on a control frame");
      return 0;
    }
    if (opcode > OP_BINARY) return this.#fail(CLOSE_PROTOCOL_ERROR, `reserved opcode 0x${opcode.toString(16)}`);
    if (opcode === OP_CONTINUATION) {
      if (this.#msgOpcode === 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "continuation frame outside a message");
      if ((b0 & 0x40) !== 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "RSV1 set on a continuation frame");
    } else {
      if (this.#msgOpcode !== 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message");
      if ((b0 & 0x40) !== 0 && this.#codec === undefined) {
        return this.#fail(CLOSE_PROTOCOL_ERROR, "RSV1 set without a negotiated extension");
      }
    }
    return 0;
  }

  /**
   * Takes text bytes; false after failing with 1007. `whole`: the bytes are
   * a whole message, decoded in one call (a streaming decode costs about 4 µs
   * more per message on Deno). Otherwise they are checked with the
   * message's streaming decoder, which throws as soon as a sequence is
   * invalid, and kept (copied unless `owned`) to be decoded when the message
   * is complete.
   */
  #decodeText(bytes: Uint8Array, whole: boolean, owned: boolean): boolean {
    if (whole) {
      try {
        this.#text = fatal.decode(bytes);
        return true;
      } catch {
        this.#fail(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
        return false;
      }
    }
    if (!this.#checkText(bytes)) return false;
    this.#keep(bytes, owned);
    return true;
  }

  /** Checks a piece of a text message's bytes; false after failing with 1007. */
  #checkText(bytes: Uint8Array): boolean {
    try {
      this.#decoder ??= new TextDecoder("utf-8", { fatal: true });
      this.#streaming = true;
      this.#decoder.decode(bytes, { stream: true });
      return true;
    } catch {
      this.#decoder = null;
      this.#fail(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
      return false;
    }
  }

  /** Adds bytes to the message; `owned`: they are the receiver's and may be kept as they are. */
  #keep(bytes: Uint8Array, owned: boolean): void {
    const n = bytes.byteLength;
    if (n === 0) return;
    if (this.#first === null && this.#size === 0) {
      this.#first = owned ? bytes : bytes.slice();
      return;
    }
    const first = this.#first;
    this.#first = null;
    const have = first !== null ? first.byteLength : this.#size;
    const need = have + n;
    if (need > this.#buf.byteLength) {
      let cap = Math.max(need, this.#buf.byteLength * 2, 1024);
      if (cap > this.#maxPayload) cap = Math.max(need, this.#maxPayload);
      const grown = new Uint8Array(cap);
      if (first === null) grown.set(this.#buf.subarray(0, this.#size));
      this.#buf = grown;
    }
    if (first !== null) this.#buf.set(first);
    this.#buf.set(bytes, have);
    this.#size = need;
  }

  /** The message's bytes, in a buffer of their own; resets for the next message. */
  #takeBytes(): Uint8Array {
    const first = this.#first;
    const buf = this.#buf;
    const size = this.#size;
    this.#first = null;
    this.#buf = EMPTY;
    this.#size = 0;
    if (first !== null) return first;
    if (size === 0) return new Uint8Array(0); // not the shared EMPTY: the handler owns what it gets
    return size === buf.byteLength ? buf : buf.slice(0, size);
  }

  #frameDone(): void {
    const opcode = this.#opcode;
    const payload = this.#payload;
    this.#payload = EMPTY;
    if (opcode >= 8) return this.#control(opcode, payload);
    if (this.#msgCompressed) return this.#inflate(payload);
    this.#msgSize += this.#len;
    // Text from the scratch buffer was taken already (payload is EMPTY).
    this.#keep(payload, true);
    if (this.#fin) this.#deliver();
  }

  #control(opcode: number, payload: Uint8Array): void {
    if (opcode === OP_PING) return this.#sink.onPing(payload);
    if (opcode === OP_PONG) return this.#sink.onPong(payload);
    // OP_CLOSE
    if (payload.byteLength === 1) {
      this.#fail(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
      return;
    }
    let code = 1005;
    let reason = "";
    if (payload.byteLength >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidWireCloseCode(code)) {
        this.#fail(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
        return;
      }
      try {
        reason = fatal.decode(payload.subarray(2));
      } catch {
        this.#fail(CLOSE_INVALID_DATA, "invalid UTF-8 in a close reason");
        return;
      }
    }
    this.#dead = true;
    this.#queue = [];
    this.#sink.onCloseFrame(code, reason);
  }

  #inflate(payload: Uint8Array): void {
    const fin = this.#fin;
    const text = this.#msgOpcode === OP_TEXT;
    this.#wireSize += payload.byteLength;
    this.#busy = true;
    this.#sink.pause();
    const sink = (chunk: Uint8Array): boolean => {
      if (this.#dead) return false;
      this.#msgSize += chunk.byteLength;
      if (this.#msgSize > this.#maxPayload) {
        this.#fail(CLOSE_TOO_BIG, `message exceeds maxPayload (${this.#maxPayload} bytes) after decompression`);
        return false;
      }
      if (text) return this.#decodeText(chunk, false, true);
      this.#keep(chunk, true);
      return true;
    };
    this.#codec!.inflate(payload, fin, sink).then((ok) => {
      this.#busy = false;
      // After a failure reading resumes too: the peer's close frame and FIN
      // must still come in, or the socket closed only at the close timeout
      // (5 s on Node after a message over maxPayload).
      if (this.#dead) return this.#sink.resume();
      if (!ok) {
        this.#fail(CLOSE_INVALID_DATA, "invalid compressed data");
        return this.#sink.resume();
      }
      if (fin) this.#deliver();
      this.#sink.resume();
      while (!this.#busy && !this.#dead && this.#queue.length > 0) this.#process(this.#queue.shift()!);
    });
  }

  #deliver(): void {
    const opcode = this.#msgOpcode;
    this.#msgOpcode = 0;
    this.#msgCompressed = false;
    this.#msgSize = 0;
    this.#wireSize = 0;
    if (opcode === OP_TEXT) {
      let text = this.#text;
      this.#text = null;
      if (text === null) {
        if (this.#streaming) {
          this.#streaming = false;
          try {
            this.#decoder!.decode(); // throws if the message ends inside a sequence
          } catch {
            this.#decoder = null;
            this.#fail(CLOSE_INVALID_DATA, "text message ends inside a UTF-8 sequence");
            return;
          }
        }
        text = decoder.decode(this.#takeBytes()); // checked already
      }
      this.#sink.onText(text);
      return;
    }
    this.#sink.onBinary(this.#takeBytes());
  }

  #fail(code: number, reason: string): -1 {
    if (!this.#dead) {
      this.#dead = true;
      this.#queue = [];
      this.#sink.onProtocolError(code, reason);
    }
    return -1;
  }
}

/** Text frames up to this size are unmasked into one buffer shared by every connection. */
const SCRATCH_MAX = 1 << 20;
let scratch = new Uint8Array(4096);

/** The shared scratch buffer, grown to hold `n` bytes (to the next power of two). */
function scratchFor(n: number): Uint8Array {
  if (scratch.byteLength < n) scratch = new Uint8Array(2 ** Math.ceil(Math.log2(n)));
  return scratch;
}

/**
 * Unmasks `n` bytes of `p` from `at` (where the payload's byte `at` is), four
 * at a time: about 4× faster than a byte loop on 16 KiB. The buffers the
 * receiver unmasks start at offset 0, so payload offset and memory alignment agree.
 */
function unmask(p: Uint8Array, at: number, n: number, m: Uint8Array, m32: number): void {
  let i = at;
  const stop = at + n;
  if (n >= 32 && p.byteOffset === 0) {
    while ((i & 3) !== 0) p[i] ^= m[i & 3], i++;
    const words = (stop - i) >>> 2;
    const w = new Uint32Array(p.buffer, i, words);
    for (let j = 0; j < words; j++) w[j] ^= m32;
    i += words << 2;
  }
  for (; i < stop; i++) p[i] ^= m[i & 3];
}
