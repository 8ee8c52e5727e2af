import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkServeOptions, listenOptions, unixUrl } from "./listen_options.ts";
import type { ServeInit } from "./types.ts";

const fetch = () => new Response("hi");

/** The property names of `interface name` in src/types.ts. */
function fields(name: string): string[] {
  const src = readFileSync(new URL("./types.ts", import.meta.url), "utf8");
  const start = src.indexOf(`export interface ${name} `);
  expect(start, `interface ${name} in src/types.ts`).toBeGreaterThan(-1);
  const body = src.slice(start, src.indexOf("\n}\n", start));
  return [...body.matchAll(/\n {2}(\w+)\??:/g)].map((m) => m[1]!);
}

describe("checkServeOptions", () => {
  // Whoever adds an option to src/types.ts adds it to listen_options.ts too,
  // or serve() refuses it as unknown.
  it("knows every option src/types.ts declares", () => {
    for (const name of fields("ServeOptions")) {
      expect(() => checkServeOptions({ fetch, [name]: Symbol("x") } as unknown as ServeInit)).not.toThrow(
        /unknown option/,
      );
    }
    for (const [group, iface] of [["limits", "ServeLimits"], ["timeouts", "ServeTimeouts"]] as const) {
      for (const name of fields(iface)) {
        expect(() => checkServeOptions({ fetch, [group]: { [name]: Symbol("x") } } as unknown as ServeInit)).not
          .toThrow(/unknown option/);
      }
    }
  });

  it("accepts what the README shows, and undefined as left out", () => {
    expect(() => checkServeOptions({ fetch, port: 0, hostname: "127.0.0.1", limits: { maxConnections: 10 } }))
      .not.toThrow();
    expect(() => checkServeOptions({ fetch, path: "/tmp/a.sock", port: undefined } as ServeInit)).not.toThrow();
    expect(() => checkServeOptions({ fetch, timeouts: { keepAlive: Infinity } })).not.toThrow();
  });

  it("names what it refuses", () => {
    expect(() => checkServeOptions({ fetch, path: "/tmp/a.sock", reusePort: true })).toThrow(
      new TypeError("serve(): `path` (a unix socket) cannot be combined with `reusePort`"),
    );
    expect(() => checkServeOptions({ fetch, backlog: 0 })).toThrow(
      new TypeError("serve(): `backlog` must be a positive integer, got 0"),
    );
    expect(() => checkServeOptions({ fetch, limits: { maxConnections: 0 } })).toThrow(
      new TypeError("serve(): `limits.maxConnections` must be a positive integer (Infinity: no limit), got 0"),
    );
    expect(() => checkServeOptions({ fetch, timeouts: [] as never })).toThrow(
      new TypeError("serve(): `timeouts` must be an object, got an array"),
    );
    expect(() => checkServeOptions({ fetch, limits: { maxConnections: Infinity } })).not.toThrow();
    expect(() => checkServeOptions({ fetch, timeouts: { body: -1 } })).toThrow(
      new TypeError("serve(): `timeouts.body` must be a number of milliseconds (Infinity: none), got -1"),
    );
  });
});

describe("listenOptions", () => {
  it("passes PEM text through and defaults host and port", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
    expect(listenOptions({ fetch, tls: { cert: pem, key: pem } })).toEqual({
      port: 8000,
      hostname: "0.0.0.0",
      reusePort: undefined,
      backlog: undefined,
      tls: { cert: pem, key: pem },
    });
  });

  it("reads a PEM file's bytes as its text, and refuses bytes that are not PEM", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n";
    const bytes = new TextEncoder().encode(pem);
    expect(listenOptions({ fetch, tls: { cert: bytes, key: bytes } }).tls).toEqual({ cert: pem, key: pem });
    expect(() => checkServeOptions({ fetch, tls: { cert: bytes, key: new Uint8Array(0) } })).not.toThrow();
    expect(() => listenOptions({ fetch, tls: { cert: bytes, key: new Uint8Array([1, 2]) } })).toThrow(
      new TypeError('serve(): `tls.key`: the bytes given are not PEM (no "-----BEGIN" line)'),
    );
    expect(() => checkServeOptions({ fetch, tls: { cert: bytes, key: 42 as never } })).toThrow(
      new TypeError("serve(): `tls.key` must be PEM text, a file path, or a PEM file's bytes, got 42"),
    );
  });
});

describe("unixUrl", () => {
  it("puts the encoded path where the host goes", () => {
    expect(unixUrl("http://", "/tmp/app.sock")).toBe("http+unix://%2Ftmp%2Fapp.sock/");
    expect(unixUrl("https://", "/run/a b.sock")).toBe("https+unix://%2Frun%2Fa%20b.sock/");
    expect(new URL(unixUrl("http://", "/tmp/app.sock")).hostname).toBe("%2Ftmp%2Fapp.sock");
  });
});
