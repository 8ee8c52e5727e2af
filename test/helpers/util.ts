import { createHash } from "node:crypto";

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Reads a fetch Response body as a stream and returns its sha-256 and length. */
export async function hashBody(response: Response): Promise<{ sha256: string; bytes: number; chunks: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let chunks = 0;
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      chunks++;
    }
  }
  return { sha256: hash.digest("hex"), bytes, chunks };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `probe` until `done(value)` holds or `timeoutMs` passes; returns the
 * last value either way, so the caller's expect() shows what was seen.
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await sleep(intervalMs);
    value = await probe();
  }
  return value;
}

export function uniqueId(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
