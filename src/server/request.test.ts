import { describe, expect, it } from "vitest";
import { BodyStream } from "./body.ts";
import { IncomingRequest, installRequestBridge, type RequestSource } from "./request.ts";

// A request over a real BodyStream, fed by hand; `built` counts the platform Requests made.
function make(method: string, chunks: string[] | null) {
  const body = chunks === null ? null : new BodyStream({ onPull() {}, onCancel() {}, account() {} });
  const abort = new AbortController();
  const source: RequestSource = {
    get stream() {
      return body?.stream ?? null;
    },
    get locked() {
      return body?.locked ?? false;
    },
    get disturbed() {
      return body?.disturbed ?? false;
    },
    get hasBody() {
      return body !== null;
    },
    collect: () => body?.collect() ?? null,
    signal: () => abort.signal,
  };
  const req = new IncomingRequest(method, "http://h.test/p?q=1", ["Host", "h.test", "X-A", "1", "x-a", "2"], source);
  const reals = new Set<Request>();
  const materialize = req.materialize.bind(req);
  req.materialize = () => {
    const real = materialize();
    reals.add(real);
    return real;
  };
  for (const c of chunks ?? []) body!.push(new TextEncoder().encode(c));
  body?.close();
  return { req, built: () => reals.size };
}

describe("IncomingRequest", () => {
  it("answers method, url, headers and the body readers without a platform Request", async () => {
    const { req, built } = make("POST", ['{"a":', "1}"]);
    expect(req instanceof Request).toBe(true);
    expect(req.method).toBe("POST");
    expect(req.url).toBe("http://h.test/p?q=1");
    expect(req.headers.get("x-a")).toBe("1, 2");
    expect(req.bodyUsed).toBe(false);
    expect(await req.json()).toEqual({ a: 1 });
    expect(req.bodyUsed).toBe(true);
    await expect(req.text()).rejects.toThrow(TypeError);
    expect(built()).toBe(0);
  });

  it("builds the platform Request once for the rest of the API", async () => {
    const { req, built } = make("PUT", ["x"]);
    expect(req.cache).toBe("default");
    expect(req.redirect).toBe("follow");
    const copy = req.clone();
    expect(built()).toBe(1);
    expect(await copy.text()).toBe("x");
    expect(await req.text()).toBe("x");
  });

  it("gives a byte stream as its body, which a BYOB reader reads", async () => {
    const { req } = make("POST", ["hello", " ", "world"]);
    const reader = req.body!.getReader({ mode: "byob" });
    let text = "";
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(4));
      if (done) break;
      expect(value.byteLength).toBeLessThanOrEqual(4);
      text += new TextDecoder().decode(value);
    }
    expect(text).toBe("hello world");
    expect(req.bodyUsed).toBe(true);
  });
});

describe("installRequestBridge", () => {
  const Native = Request;
  const nativeFetch = fetch;
  installRequestBridge();

  it("makes new Request(req) and new Request(req, init) take the request as a platform Request", async () => {
    const a = make("POST", ["body a"]);
    const r = new Request(a.req as Request);
    expect(r.method).toBe("POST");
    expect(r.headers.get("x-a")).toBe("1, 2");
    expect(await r.text()).toBe("body a");
    const b = make("POST", ["body b"]);
    const s = new Request(b.req as Request, { headers: { "x-init": "1" } });
    expect([s.method, s.headers.get("x-init"), s.headers.get("x-a")]).toEqual(["POST", "1", null]);
    expect(await s.text()).toBe("body b");
  });

  it("keeps Request looking and acting as the platform's", async () => {
    expect(Request).not.toBe(Native);
    expect(Request.name).toBe(Native.name);
    expect(Request.length).toBe(Native.length);
    expect(Request.prototype).toBe(Native.prototype);
    expect(new Native("http://x.test/") instanceof Request).toBe(true);
    expect(new Request("http://x.test/") instanceof Native).toBe(true);
    class Sub extends Request {}
    const sub = new Sub(make("PATCH", ["s"]).req as Request);
    expect(sub instanceof Sub && sub instanceof Native).toBe(true);
    expect(await sub.text()).toBe("s");
    // Called without `new`, it throws the platform's TypeError.
    expect(() => (Request as unknown as (u: string) => Request)("http://x.test/")).toThrow(TypeError);
    expect(fetch).not.toBe(nativeFetch);
    expect(fetch.name).toBe(nativeFetch.name);
  });

  it("refuses a request whose body was read, as the platform does", async () => {
    const { req } = make("POST", ["x"]);
    await req.text();
    expect(() => new Request(req as Request)).toThrow(TypeError);
  });
});
