import { afterEach, describe, expect, it, vi } from "vitest";
import { FixedFields } from "./fixed_head.ts";
import { type ConnectionField, serializeHead } from "./response.ts";

const text = (b: Uint8Array) => String.fromCharCode(...b);
const fields: [string, string][] = [["content-type", "text/plain;charset=UTF-8"], ["x-a", "caf\u00e9"]];

// What the general path sends: serializeHead, then the body.
function expected(status: number, statusText: string, body: string, connection: ConnectionField): string {
  return serializeHead(status, statusText, fields, { kind: "length", length: body.length }, connection) + body;
}

describe("FixedFields", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // The clock stands still where heads are compared with the general
  // path's: a second turning between the two would change the Date.
  const still = () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-12-03T10:00:00.500Z"));
  };

  it("sends the same bytes as the general path, for every status, length and connection decision", () => {
    still();
    const fixed = new FixedFields(fields);
    for (const [status, statusText] of [[200, ""], [404, ""], [201, "Made"], [599, ""], [200, ""]] as const) {
      for (
        const body of ["", "x", "Hello, World!", "a".repeat(64), "b".repeat(65), "c".repeat(999), "d".repeat(12345)]
      ) {
        for (const connection of [null, "close", "keep-alive"] as const) {
          expect(text(fixed.encode(status, statusText, body, connection)!)).toBe(
            expected(status, statusText, body, connection),
          );
        }
      }
    }
  });

  it("declines a body that is not ASCII, short or long", () => {
    const fixed = new FixedFields(fields);
    expect(fixed.encode(200, "", "caf\u00e9", null)).toBeNull();
    expect(fixed.encode(200, "", "\u2713".repeat(100), null)).toBeNull();
    expect(fixed.encode(200, "", "a".repeat(100) + "\u00e9", null)).toBeNull();
  });

  it("dates each head with the current second", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-12-03T10:00:00.500Z"));
    const fixed = new FixedFields(fields);
    expect(text(fixed.encode(200, "", "hi", null)!)).toContain("date: Thu, 03 Dec 2026 10:00:00 GMT\r\n");
    vi.setSystemTime(new Date("2026-12-03T10:00:00.900Z"));
    expect(text(fixed.encode(200, "", "hi", null)!)).toContain("date: Thu, 03 Dec 2026 10:00:00 GMT\r\n");
    vi.setSystemTime(new Date("2026-12-03T10:00:01.000Z"));
    expect(text(fixed.encode(200, "", "hi", null)!)).toContain("date: Thu, 03 Dec 2026 10:00:01 GMT\r\n");
    expect(text(fixed.encode(404, "", "hi", null)!)).toContain("date: Thu, 03 Dec 2026 10:00:01 GMT\r\n");
  });

  it("keeps answering right when a program uses more statuses than it keeps heads for", () => {
    still();
    const fixed = new FixedFields(fields);
    for (let round = 0; round < 3; round++) {
      for (const status of [200, 201, 202, 203, 204, 206, 400]) {
        expect(text(fixed.encode(status, "", "ok", null)!)).toBe(expected(status, "", "ok", null));
      }
    }
  });
});
