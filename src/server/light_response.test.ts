import { describe, expect, it } from "vitest";
import { headerFields, makeLightResponse, RESPONSE_PARTS, type ResponseParts } from "./light_response.ts";

const Light = makeLightResponse(Response);
const parts = (r: Response) => (r as unknown as { [RESPONSE_PARTS](): ResponseParts | null })[RESPONSE_PARTS]();

describe("LightResponse", () => {
  it("is a Response, and platform Responses are still Responses", () => {
    const r = new Light("hi");
    expect(r instanceof Light).toBe(true);
    expect(r instanceof Response).toBe(true);
    expect(new Response("x") instanceof Light).toBe(true);
    expect(Light.json({ a: 1 }) instanceof Light).toBe(true);
  });

  it("gives the server its parts without building a platform Response", () => {
    const r = new Light("hello", { status: 201, headers: { "X-A": " 1 ", "content-type": "text/x" } });
    expect(parts(r)).toEqual({
      status: 201,
      statusText: "",
      headers: [["x-a", "1"], ["content-type", "text/x"]],
      body: "hello",
      fixed: null,
    });
    expect(parts(new Light("t"))!.headers).toEqual([["content-type", "text/plain;charset=UTF-8"]]);
    expect(parts(new Light(new Uint8Array([1])))!.headers).toEqual([]);
  });

  it("marks the constant fields of a bare text or JSON response, whose heads the writer keeps", async () => {
    const text = parts(new Light("t", { status: 404 }))!;
    expect(text.fixed?.fields).toBe(text.headers);
    expect(parts(new Light("t"))!.fixed).toBe(text.fixed);
    const json = Light.json({ a: 1 }, { status: 201 });
    expect(parts(json)).toMatchObject({
      status: 201,
      body: '{"a":1}',
      headers: [["content-type", "application/json"]],
    });
    expect(parts(json)!.fixed?.fields).toBe(parts(json)!.headers);
    expect(parts(Light.json(2))!.fixed).toBe(parts(json)!.fixed);
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.json()).toEqual({ a: 1 });
    expect(() => Light.json(1, { status: 99 })).toThrow(RangeError);
    expect(parts(new Light("t", { headers: { "x-a": "1" } }))!.fixed).toBeNull();
    expect(parts(new Light(new Uint8Array([1])))!.fixed).toBeNull();
  });

  it("keeps its parts when its headers are changed, and behaves as the platform Response once anything else is asked of it", async () => {
    const r = new Light("body", { status: 202, statusText: "Accepted", headers: [["x-b", "2"]] });
    expect(r.status).toBe(202);
    expect(r.ok).toBe(true);
    const headers = r.headers;
    headers.set("x-c", "3"); // a Headers of its own: no platform Response yet, mutations stick
    expect(r.headers).toBe(headers);
    expect(parts(r)!.headers).toEqual([["content-type", "text/plain;charset=UTF-8"], ["x-b", "2"], ["x-c", "3"]]);
    expect(r.headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    const copy = r.clone(); // builds the platform Response, from those fields
    expect(parts(r)).toBeNull();
    expect(copy.headers.get("x-c")).toBe("3");
    headers.set("x-d", "4"); // still the response's fields, which the server reads
    expect(r.headers.get("x-d")).toBe("4");
    expect(await r.text()).toBe("body");
    expect(await copy.text()).toBe("body");
    expect(r.bodyUsed).toBe(true);
  });

  it("leaves streams, invalid statuses and invalid headers to the platform", () => {
    const stream = new Light(new ReadableStream());
    expect(parts(stream)).toBeNull();
    expect(() => new Light("x", { status: 99 })).toThrow(RangeError);
    expect(() => new Light("x", { headers: { "bad name": "v" } })).toThrow(TypeError);
    expect(() => new Light("x", { headers: { ok: "a\r\nInjected: 1" } })).toThrow(TypeError);
  });

  it("validates header values as the platform does: trimmed, bytes only", () => {
    expect(parts(new Light(null, { headers: [["x-a", "\t a b \t"]] }))!.headers).toEqual([["x-a", "a b"]]);
    expect(parts(new Light(null, { headers: new Headers({ "X-B": "caf\u00e9" }) }))!.headers).toEqual([[
      "x-b",
      "caf\u00e9",
    ]]);
    expect(parts(new Light(null, { headers: { "x-n": 42 as unknown as string } }))!.headers).toEqual([["x-n", "42"]]);
    // Not a byte, NUL, a malformed entry: the platform decides (and throws).
    expect(() => new Light("x", { headers: { a: "\u2713" } })).toThrow(TypeError);
    expect(() => new Light("x", { headers: { a: "x\0y" } })).toThrow(TypeError);
    expect(() => new Light("x", { headers: [["a"]] as unknown as [string, string][] })).toThrow(TypeError);
  });

  it("reads header inits as the platform does: iterables as pairs, records, nothing else", () => {
    const fromMap = new Light(null, { headers: new Map([["X-M", "1"]]) as unknown as HeadersInit });
    expect(parts(fromMap)!.headers).toEqual([["x-m", "1"]]);
    expect(fromMap.headers.get("x-m")).toBe("1");
    expect(() => new Light("x", { headers: "ab" as unknown as HeadersInit })).toThrow(TypeError);
    expect(() => new Light("x", { headers: { a: Symbol("x") as unknown as string } })).toThrow(TypeError);
  });

  it("refuses a body with a null-body status, whatever the platform does", () => {
    for (const status of [204, 205, 304]) {
      expect(() => new Light("x", { status })).toThrow(TypeError);
      expect(() => new Light(new ReadableStream(), { status })).toThrow(TypeError);
      expect(parts(new Light(null, { status }))!.status).toBe(status);
    }
  });

  it("Response.json says application/json, after the init's fields, and keeps a given type", async () => {
    const r = Light.json({ a: "ü" }, { status: 201, headers: { "x-a": "1" } });
    expect(parts(r)).toEqual({
      status: 201,
      statusText: "",
      headers: [["x-a", "1"], ["content-type", "application/json"]],
      body: '{"a":"ü"}',
      fixed: null,
    });
    expect(parts(Light.json(1, { headers: { "Content-Type": "application/x+json" } }))!.headers)
      .toEqual([["content-type", "application/x+json"]]);
    const viaHeaders = Light.json(null, { headers: new Headers({ "x-h": "h" }) });
    expect(viaHeaders.headers.get("content-type")).toBe("application/json");
    expect(await viaHeaders.json()).toBeNull();
    expect(() => Light.json(undefined)).toThrow(TypeError);
    expect(() => Light.json(1, { status: 204 })).toThrow(TypeError);
  });

  it("Response.redirect refuses a relative URL and keeps the platform's checks", () => {
    const r = Light.redirect("http://example.com/a b", 301);
    expect([r.status, r.headers.get("location")]).toEqual([301, "http://example.com/a%20b"]);
    expect(Light.redirect(new URL("http://x.test/")).status).toBe(302);
    expect(() => Light.redirect("/relative")).toThrow(TypeError);
    expect(() => Light.redirect("http://x.test/", 200)).toThrow(RangeError);
  });

  it("puts a string body's content-type in the platform Response it builds", () => {
    const r = new Light("s", { headers: [["x-a", "1"]] });
    r.headers.set("x-b", "2");
    expect([...r.headers]).toEqual([["content-type", "text/plain;charset=UTF-8"], ["x-a", "1"], ["x-b", "2"]]);
  });
});

describe("headerFields", () => {
  it("gives the Fetch standard's order: sorted, each set-cookie in its place", () => {
    const h = new Headers([["x-z", "1"], ["set-cookie", "a=1"], ["content-type", "t"], ["set-cookie", "b=2"]]);
    expect([...headerFields(h)]).toEqual([
      ["content-type", "t"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["x-z", "1"],
    ]);
  });
});
