/**
 * Reading a Response body that is already complete without streaming it.
 *
 * `new Response("text")` keeps its source next to the stream it would
 * otherwise be read through: undici (Node) in its state object, Deno as a
 * lazy static body. Taking the source directly saves a stream, two reads and
 * their promises per response, which is most of the cost of a small
 * response. This is feature detection on objects, not on runtimes: where no
 * known shape is found (Bun, a future version) the body is streamed as usual,
 * which is always correct.
 *
 * @module
 */

const encoder = new TextEncoder();

type Probe = (response: Response) => Uint8Array | string | null;

function symbolNamed(o: object, name: string): symbol | undefined {
  return Object.getOwnPropertySymbols(o).find((s) => s.description === name);
}

// undici: response[Symbol(state)].body.source is the string or bytes given.
function undiciProbe(): Probe | null {
  const probe = new Response("x");
  const state = symbolNamed(probe, "state");
  if (state === undefined) return null;
  type State = { body: { source: unknown; stream: ReadableStream | null } | null };
  if (typeof (probe as unknown as Record<symbol, State>)[state]?.body?.source !== "string") return null;
  return (response) => {
    const body = (response as unknown as Record<symbol, State>)[state]?.body;
    // A body someone started reading has a locked stream.
    if (!body || body.stream?.locked) return null;
    const source = body.source;
    return typeof source === "string" || source instanceof Uint8Array ? source : null;
  };
}

// Deno: a string body waits in Symbol(lazy static body); bytes sit in
// response[Symbol(response)].body.streamOrStatic.
function denoProbe(): Probe | null {
  const probe = new Response("x");
  const lazy = symbolNamed(probe, "lazy static body");
  const inner = symbolNamed(probe, "response");
  if (lazy === undefined || inner === undefined) return null;
  if ((probe as unknown as Record<symbol, unknown>)[lazy] !== "x") return null;
  type Inner = { body: { streamOrStatic?: { body?: unknown; consumed?: boolean } } | null };
  return (response) => {
    // Still lazy means nobody touched the body (bodyUsed would materialise it).
    const r = response as unknown as Record<symbol, unknown>;
    const text = r[lazy];
    if (typeof text === "string") return text;
    if (response.bodyUsed) return null;
    const s = (r[inner] as Inner | undefined)?.body?.streamOrStatic;
    return s && !s.consumed && s.body instanceof Uint8Array ? s.body : null;
  };
}

const probe: Probe | null = (() => {
  try {
    return undiciProbe() ?? denoProbe();
  } catch {
    return null;
  }
})();

/** The complete body of `response` as bytes, when it can be had without streaming; else null. */
export function staticBody(response: Response): Uint8Array | null {
  const source = probe === null ? null : probe(response);
  if (source === null) return null;
  return typeof source === "string" ? encoder.encode(source) : source;
}
