import { describe, expect, it, vi } from "vitest";
import { DIRECT_WRITES, holdWrites, QUIET_TURNS } from "../../adapters/write_batch.ts";

const turn = () => new Promise((r) => setImmediate(r));

describe("holdWrites", () => {
  it("releases each held connection once, after the code of the current turn, in the order held", async () => {
    const order: string[] = [];
    expect(holdWrites({ releaseWrites: () => order.push("a") })).toBe(true);
    expect(holdWrites({ releaseWrites: () => order.push("b") })).toBe(true);
    order.push("turn");
    await Promise.resolve();
    order.push("microtasks");
    await turn();
    expect(order).toEqual(["turn", "microtasks", "a", "b"]);
    await turn();
    expect(order).toEqual(["turn", "microtasks", "a", "b"]);
  });

  it("keeps releasing the others when one fails, and reports the failure", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const released: string[] = [];
    holdWrites({ releaseWrites: () => released.push("a") });
    holdWrites({
      releaseWrites: () => {
        throw new Error("boom");
      },
    });
    holdWrites({ releaseWrites: () => released.push("c") });
    await turn();
    expect(released).toEqual(["a", "c"]);
    expect(error).toHaveBeenCalledWith("portico: sending held writes failed:", expect.any(Error));
    error.mockRestore();
  });

  it("holds a connection held during a release until a later turn, and releases it then", async () => {
    const released: string[] = [];
    holdWrites({
      releaseWrites: () => {
        released.push("first");
        holdWrites({ releaseWrites: () => released.push("again") });
      },
    });
    await turn();
    expect(released).toEqual(["first"]);
    await turn();
    expect(released).toEqual(["first", "again"]);
  });

  it("stops holding after turns in which only one connection wrote, and tries again after a number of direct writes", async () => {
    const noop = { releaseWrites() {} };
    holdWrites(noop);
    holdWrites(noop);
    await turn(); // a turn with two: counting starts afresh
    for (let i = 0; i < QUIET_TURNS; i++) {
      expect(holdWrites(noop)).toBe(true);
      await turn();
    }
    for (let i = 0; i < DIRECT_WRITES; i++) expect(holdWrites(noop)).toBe(false);
    expect(holdWrites(noop)).toBe(true);
    holdWrites(noop);
    await turn();
  });
});
