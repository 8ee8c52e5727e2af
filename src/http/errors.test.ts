import { describe, expect, it } from "vitest";
import { HttpError } from "./errors.ts";
import { RequestParser } from "./parser.ts";

describe("HttpError", () => {
  it("carries an application's status, message, headers and cause", () => {
    const cause = new Error("db said no");
    const e = new HttpError(409, "conflict on /a", { headers: { etag: '"9"' }, cause });
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.status, e.message, e.code, e.cause]).toEqual([
      "HttpError",
      409,
      "conflict on /a",
      undefined,
      cause,
    ]);
    expect(e.headers.get("etag")).toBe('"9"');
    expect("cause" in new HttpError(400)).toBe(false);
  });

  it("defaults the message to the reason phrase", () => {
    expect(new HttpError(404).message).toBe("Not Found");
    expect(new HttpError(599).message).toBe("HTTP 599");
  });

  it("accepts statuses from 400 to 599 only", () => {
    for (const bad of [200, 302, 399, 600, 404.5, NaN]) expect(() => new HttpError(bad)).toThrow(RangeError);
  });

  it("keeps the named protocol codes", () => {
    const e = new HttpError("URI_TOO_LONG", "too long", { headers: { "retry-after": "1" } });
    expect([e.code, e.status, e.message, e.headers.get("retry-after")]).toEqual(["URI_TOO_LONG", 414, "too long", "1"]);
  });

  it("answers with its status, headers and a one-line text body", async () => {
    const r = new HttpError(401, "sign\r\nin", { headers: { "www-authenticate": "Basic" } }).toResponse();
    expect([r.status, r.headers.get("www-authenticate"), r.headers.get("content-type")]).toEqual([
      401,
      "Basic",
      "text/plain; charset=utf-8",
    ]);
    expect(await r.text()).toBe("sign in\n");
  });

  it("names the parser's closed state PARSER_CLOSED", () => {
    const p = new RequestParser({ onHead() {}, onBody() {}, onComplete() {} });
    const bytes = new TextEncoder().encode("\x01");
    expect(() => p.execute(bytes)).toThrow(HttpError);
    let again: unknown;
    try {
      p.execute(bytes);
    } catch (e) {
      again = e;
    }
    expect((again as HttpError).code).toBe("PARSER_CLOSED");
  });
});
