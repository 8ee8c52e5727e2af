import { describe, expect, it } from "vitest";
import { evaluatePreconditions, ifRangeMatches, validators } from "./etag.ts";

const mtime = Date.UTC(2024, 0, 1, 12, 0, 0) + 345; // not on a whole second
const weak = validators(1234, mtime, true);
const strong = validators(1234, mtime, "strong");
const none = validators(1234, mtime, false);
const h = (init: Record<string, string>) => new Headers(init);

describe("validators", () => {
  it("derive the tag from size and mtime, weak by default", () => {
    expect(weak.etag).toBe(`W/"4d2-${Math.floor(mtime).toString(16)}"`);
    expect(validators(1234, mtime, "weak").etag).toBe(weak.etag);
    expect(strong.etag).toBe(weak.etag!.slice(2));
    expect(none.etag).toBeNull();
    expect(weak.lastModified).toBe("Mon, 01 Jan 2024 12:00:00 GMT");
    expect(validators(1235, mtime, true).etag).not.toBe(weak.etag);
    expect(validators(1234, mtime + 1, true).etag).not.toBe(weak.etag);
  });

  it("the example in the docs holds", () => {
    const v = validators(1234, Date.UTC(2024, 0, 1), true);
    expect(v.etag).toBe('W/"4d2-18cc251f400"');
    expect(v.lastModified).toBe("Mon, 01 Jan 2024 00:00:00 GMT");
  });
});

describe("evaluatePreconditions", () => {
  it("If-None-Match: weak comparison, lists, *", () => {
    expect(evaluatePreconditions(h({ "if-none-match": weak.etag! }), "GET", weak)).toBe("not-modified");
    expect(evaluatePreconditions(h({ "if-none-match": strong.etag! }), "GET", weak)).toBe("not-modified");
    expect(evaluatePreconditions(h({ "if-none-match": weak.etag! }), "HEAD", strong)).toBe("not-modified");
    expect(evaluatePreconditions(h({ "if-none-match": `"x", "a,b", ${weak.etag}` }), "GET", weak)).toBe(
      "not-modified",
    );
    expect(evaluatePreconditions(h({ "if-none-match": "*" }), "GET", none)).toBe("not-modified");
    expect(evaluatePreconditions(h({ "if-none-match": '"other"' }), "GET", weak)).toBe("proceed");
    expect(evaluatePreconditions(h({ "if-none-match": weak.etag! }), "GET", none)).toBe("proceed");
    // on an unsafe method, a match is a failed precondition
    expect(evaluatePreconditions(h({ "if-none-match": weak.etag! }), "PUT", weak)).toBe("failed");
  });

  it("If-Modified-Since: whole seconds, ignored when If-None-Match is present", () => {
    expect(evaluatePreconditions(h({ "if-modified-since": weak.lastModified }), "GET", weak)).toBe("not-modified");
    const later = new Date(mtime + 60_000).toUTCString();
    expect(evaluatePreconditions(h({ "if-modified-since": later }), "GET", weak)).toBe("not-modified");
    const earlier = new Date(mtime - 60_000).toUTCString();
    expect(evaluatePreconditions(h({ "if-modified-since": earlier }), "GET", weak)).toBe("proceed");
    expect(evaluatePreconditions(h({ "if-modified-since": "garbage" }), "GET", weak)).toBe("proceed");
    expect(
      evaluatePreconditions(h({ "if-none-match": '"other"', "if-modified-since": weak.lastModified }), "GET", weak),
    ).toBe("proceed");
    expect(evaluatePreconditions(h({ "if-modified-since": weak.lastModified }), "POST", weak)).toBe("proceed");
  });

  it("If-Match (strong) and If-Unmodified-Since", () => {
    expect(evaluatePreconditions(h({ "if-match": strong.etag! }), "GET", strong)).toBe("proceed");
    expect(evaluatePreconditions(h({ "if-match": "*" }), "GET", weak)).toBe("proceed");
    expect(evaluatePreconditions(h({ "if-match": weak.etag! }), "GET", weak)).toBe("failed");
    expect(evaluatePreconditions(h({ "if-match": '"other"' }), "GET", strong)).toBe("failed");
    const earlier = new Date(mtime - 60_000).toUTCString();
    expect(evaluatePreconditions(h({ "if-unmodified-since": earlier }), "GET", weak)).toBe("failed");
    expect(evaluatePreconditions(h({ "if-unmodified-since": weak.lastModified }), "GET", weak)).toBe("proceed");
  });
});

describe("ifRangeMatches", () => {
  it("needs a strong tag or the exact date", () => {
    expect(ifRangeMatches(strong.etag!, strong)).toBe(true);
    expect(ifRangeMatches(weak.etag!, weak)).toBe(false);
    expect(ifRangeMatches(strong.etag!, weak)).toBe(false);
    expect(ifRangeMatches('"other"', strong)).toBe(false);
    expect(ifRangeMatches(weak.lastModified, weak)).toBe(true);
    expect(ifRangeMatches(new Date(mtime + 5000).toUTCString(), weak)).toBe(false);
    expect(ifRangeMatches("nonsense", weak)).toBe(false);
  });
});
