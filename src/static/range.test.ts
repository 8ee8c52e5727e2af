import { describe, expect, it } from "vitest";
import { parseRange } from "./range.ts";

describe("parseRange", () => {
  it.each(
    [
      ["bytes=0-4", 10, { kind: "range", start: 0, end: 4 }],
      ["bytes=5-", 10, { kind: "range", start: 5, end: 9 }],
      ["bytes=-3", 10, { kind: "range", start: 7, end: 9 }],
      ["bytes=-30", 10, { kind: "range", start: 0, end: 9 }],
      ["bytes=8-100", 10, { kind: "range", start: 8, end: 9 }],
      ["bytes=9-9", 10, { kind: "range", start: 9, end: 9 }],
      ["Bytes = 1-2", 10, { kind: "range", start: 1, end: 2 }],
      ["bytes=0-99999999999999999999", 10, { kind: "range", start: 0, end: 9 }],
      ["bytes=10-", 10, { kind: "unsatisfiable" }],
      ["bytes=10-20", 10, { kind: "unsatisfiable" }],
      ["bytes=-0", 10, { kind: "unsatisfiable" }],
      ["bytes=99999999999999999999-", 10, { kind: "unsatisfiable" }],
      ["bytes=0-", 0, { kind: "unsatisfiable" }],
      ["bytes=10-,20-", 10, { kind: "unsatisfiable" }],
      ["bytes=-5", 0, { kind: "none" }],
      ["bytes=0-1,4-5", 10, { kind: "none" }],
      ["bytes=0-1,20-", 10, { kind: "none" }],
      ["bytes=5-2", 10, { kind: "none" }],
      ["bytes=abc", 10, { kind: "none" }],
      ["bytes=-", 10, { kind: "none" }],
      ["bytes=", 10, { kind: "none" }],
      ["bytes=1-2-3", 10, { kind: "none" }],
      ["bytes=+1-2", 10, { kind: "none" }],
      ["items=0-4", 10, { kind: "none" }],
      ["0-4", 10, { kind: "none" }],
    ] as const,
  )("%s of %d bytes", (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it("no header means the whole representation", () => {
    expect(parseRange(null, 10)).toEqual({ kind: "none" });
  });
});
