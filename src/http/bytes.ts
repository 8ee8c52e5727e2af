/**
 * Byte helpers shared by the body readers: joining chunks, and reading a
 * stream whole within a limit.
 *
 * @module
 */

/** Joins chunks into one new buffer (or returns the only chunk when it owns its whole buffer). */
export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0].byteOffset === 0 && parts[0].byteLength === parts[0].buffer.byteLength) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Reads `stream` to the end. Past `limit` bytes it cancels the stream and
 * throws `tooLarge()`, so a body is never buffered beyond the limit.
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number = Infinity,
  tooLarge: () => Error = () => new RangeError(`stream longer than ${limit} bytes`),
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      void reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  return concatBytes(parts);
}
