import { describe, expect, it } from "vitest";
import { DEFAULTS, resolveOptions } from "./options.ts";

describe("resolveOptions", () => {
  it("fills in every default, as the README lists them", () => {
    const o = resolveOptions({});
    expect(o.limits).toEqual({
      maxUrlBytes: 8 * 1024,
      maxHeaderBytes: 16 * 1024,
      maxBodyBytes: 100 * 1024 * 1024,
      connectionBytes: 1024 * 1024,
      maxConnections: Infinity,
      atMaxConnections: "wait",
    });
    expect(o.timeouts).toEqual({
      headers: 10_000,
      body: 30_000,
      keepAlive: 5_000,
      send: 30_000,
      handler: Infinity,
      shutdown: 30_000,
    });
    expect(o.scheme).toBe("http://");
    expect(o.bodyHighWater).toBe(64 * 1024);
    expect(o.sweepMs).toBe(1000);
  });

  it("takes what is given, ignores what is undefined, and freezes the result", () => {
    const o = resolveOptions({
      limits: { maxBodyBytes: 10, connectionBytes: 16 * 1024, maxConnections: undefined },
      timeouts: { headers: 400, handler: 2000, send: undefined },
      tls: { cert: "c", key: "k" },
    });
    expect(o.limits.maxBodyBytes).toBe(10);
    expect(o.limits.maxConnections).toBe(Infinity);
    expect(o.timeouts.send).toBe(30_000);
    expect(o.scheme).toBe("https://");
    // derived once: the body queue stays below half the budget; the sweeper runs at a quarter of the shortest timeout
    expect(o.bodyHighWater).toBe(8 * 1024);
    expect(o.sweepMs).toBe(100);
    expect(Object.isFrozen(o) && Object.isFrozen(o.limits) && Object.isFrozen(o.timeouts)).toBe(true);
    expect(Object.isFrozen(DEFAULTS.limits) && Object.isFrozen(DEFAULTS.timeouts)).toBe(true);
  });
});
