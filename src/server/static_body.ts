/**
 * Reading a Response body that is already complete without streaming it.
 *
 * `new Response("text")` on Node (undici) keeps its source next to the
 * stream it would otherwise be read through; taking the source directly
 * saves a stream, two reads and their promises per response, which is most
 * of the cost of a small response. This is feature detection on the object,
 * not on the runtime: where the shape is absent (Deno, Bun, a future undici)
 * the body is streamed as usual.
 *
 * @module
 */

const encoder = new TextEncoder();

interface UndiciState {
  body: { source: unknown; stream: ReadableStream | null; length: number | null } | null;
}

const STATE: symbol | undefined = (() => {
  try {
    const probe = new Response("x");
    return Object.getOwnPropertySymbols(probe).find((s) => {
      const v = (probe as unknown as Record<symbol, unknown>)[s] as UndiciState | undefined;
      return s.description === "state" && typeof v?.body?.source === "string";
    });
  } catch {
    return undefined;
  }
})();

/** The complete body of `response` as bytes, when it can be had without streaming; else null. */
export function staticBody(response: Response): Uint8Array | null {
  if (STATE === undefined || response.bodyUsed) return null;
  const body = (response as unknown as Record<symbol, UndiciState>)[STATE]?.body;
  if (!body) return null;
  const source = body.source;
  if (typeof source === "string") return encoder.encode(source);
  if (source instanceof Uint8Array) return source;
  return null;
}
