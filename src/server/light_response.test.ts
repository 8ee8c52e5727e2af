import { describe, expect, it } from "vitest";
import { makeLightResponse, RESPONSE_PARTS, type ResponseParts } from "./light_response.ts";

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
    });
    expect(parts(new Light("t"))!.headers).toEqual([["content-type", "text/plain;charset=UTF-8"]]);
    expect(parts(new Light(new Uint8Array([1])))!.headers).toEqual([]);
  });

  it("behaves as the platform Response once anything else is asked of it", async () => {
    const r = new Light("body", { status: 202, statusText: "Accepted", headers: [["x-b", "2"]] });
    expect(r.status).toBe(202);
    expect(r.ok).toBe(true);
    r.headers.set("x-c", "3"); // builds the platform Response: mutations stick
    expect(parts(r)).toBeNull();
    expect(r.headers.get("x-c")).toBe("3");
    expect(r.headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    const copy = r.clone();
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

  it("leaves a body with a null-body status to the platform, which rejects it", () => {
    for (const status of [204, 205, 304]) {
      expect(() => new Light("x", { status })).toThrow(TypeError);
      expect(parts(new Light(null, { status }))!.status).toBe(status);
    }
  });
});
