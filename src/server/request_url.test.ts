import { describe, expect, it } from "vitest";
import { HttpError } from "../http/errors.ts";
import type { RequestHead } from "../http/parser.ts";
import { RequestUrls } from "./request_url.ts";

const head = (host: string, target = "/p?q=1", form = "origin") => ({ host, target, form }) as unknown as RequestHead;

describe("RequestUrls", () => {
  const urls = new RequestUrls("http://", "localhost:8000");

  it("builds canonical URLs without URL, and normalises the rest as URL would", () => {
    expect(urls.of(head("a.example:8080"))).toBe("http://a.example:8080/p?q=1");
    expect(urls.of(head("A.Example:80", "/a/../b"))).toBe("http://a.example/b");
    expect(urls.of(head("", "/x"))).toBe("http://localhost:8000/x");
    expect(urls.of(head("a", "*", "asterisk"))).toBe("http://a/*");
    expect(urls.of(head("", "http://b.example/y", "absolute"))).toBe("http://b.example/y");
  });

  it("every URL it returns parses, or it throws a 400 (issue 18.3)", () => {
    for (const host of ["a:99999", "a:65536", "xn--a", "xn--", "a.xn--"]) {
      let error: unknown = null;
      try {
        urls.of(head(host));
      } catch (e) {
        error = e;
      }
      expect(error, host).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(400);
    }
    for (const host of ["a:65535", "xn--bcher-kva.example", "1.2.3.4", "a_b", "[::1]:8080"]) {
      expect(() => new URL(urls.of(head(host))), host).not.toThrow();
    }
  });
});

describe("RequestUrls' Host memory", () => {
  it("answers the same for a Host it remembers, and past its bound", () => {
    const urls = new RequestUrls("http://", "localhost:8000");
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 200; k++) expect(urls.of(head(`h${k}.example`))).toBe(`http://h${k}.example/p?q=1`);
      expect(urls.of(head("H1.example"))).toBe("http://h1.example/p?q=1");
      expect(() => urls.of(head("a:99999"))).toThrow(HttpError);
    }
  });
});

describe("RequestUrls' target memory", () => {
  it("normalises a target that needs it right after one that did not, and the other way round", () => {
    const urls = new RequestUrls("http://", "localhost:8000");
    for (let round = 0; round < 2; round++) {
      expect(urls.of(head("a", "/x"))).toBe("http://a/x");
      expect(urls.of(head("a", "/x"))).toBe("http://a/x");
      expect(urls.of(head("a", "/x/../y"))).toBe("http://a/y");
      expect(urls.of(head("a", "/x/%2e%2e/y"))).toBe("http://a/y");
      expect(urls.of(head("a", "/%7e"))).toBe("http://a/%7e");
      expect(urls.of(head("a", "*", "asterisk"))).toBe("http://a/*");
    }
  });
});

describe("RequestUrls' last URL", () => {
  it("answers each Host and target pair with its own URL when only one of the two changes", () => {
    const urls = new RequestUrls("http://", "localhost:8000");
    const seq: [string, string, string][] = [
      ["a", "/x", "http://a/x"],
      ["a", "/x", "http://a/x"],
      ["b", "/x", "http://b/x"],
      ["b", "/y", "http://b/y"],
      ["a", "/y", "http://a/y"],
      ["a", "/y/../x", "http://a/x"],
      ["a", "/y", "http://a/y"],
      ["A", "/y", "http://a/y"],
      ["a", "/y", "http://a/y"],
      ["", "/y", "http://localhost:8000/y"],
    ];
    for (const [host, target, url] of seq) expect(urls.of(head(host, target)), `${host} ${target}`).toBe(url);
    // A bad Host with the last good target is still refused.
    expect(() => urls.of(head("a:99999", "/y"))).toThrow(HttpError);
    expect(urls.of(head("a", "/y"))).toBe("http://a/y");
  });
});
