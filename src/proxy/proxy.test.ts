import { describe, expect, it } from "vitest";
import { parseProxyHeader } from "./header.ts";
import { formatIp, IpMatcher, parseIp } from "./ip.ts";
import { trustForwarded } from "./trust.ts";
import type { ServeHandlerInfo } from "../types.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

function v2(command: number, family: number, body: number[], extra = 0): Uint8Array {
  const len = body.length + extra;
  return new Uint8Array([...SIG, 0x20 | command, family, len >> 8, len & 0xff, ...body, ...new Array(extra).fill(0)]);
}

describe("IP addresses", () => {
  it("parses and prints IPv4 and IPv6 in canonical form", () => {
    expect(formatIp(parseIp("192.0.2.1")!)).toBe("192.0.2.1");
    expect(formatIp(parseIp("2001:DB8:0:0:0:0:0:1")!)).toBe("2001:db8::1");
    expect(formatIp(parseIp("::1")!)).toBe("::1");
    expect(formatIp(parseIp("::")!)).toBe("::");
    expect(formatIp(parseIp("1:0:0:2:0:0:0:3")!)).toBe("1:0:0:2::3");
    expect(formatIp(parseIp("::ffff:10.1.2.3")!)).toBe("::ffff:a01:203");
    for (
      const bad of [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1::2::3",
        "12345::",
        "a.b.c.d",
        "1:2:3:4:5:6:7:8:9",
      ]
    ) {
      expect(parseIp(bad), bad).toBe(null);
    }
  });

  it("matches addresses and CIDR ranges, IPv4-mapped IPv6 as IPv4", () => {
    const m = new IpMatcher(["10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1", "172.16.0.0/12"]);
    expect(m.has("10.255.1.2")).toBe(true);
    expect(m.has("11.0.0.1")).toBe(false);
    expect(m.has("192.0.2.7")).toBe(true);
    expect(m.has("192.0.2.8")).toBe(false);
    expect(m.has("::ffff:10.0.0.1")).toBe(true);
    expect(m.has("fd12::1")).toBe(true);
    expect(m.has("fe80::1")).toBe(false);
    expect(m.has("::1")).toBe(true);
    expect(m.has("172.31.255.255")).toBe(true);
    expect(m.has("172.32.0.0")).toBe(false);
    expect(m.has("not an ip")).toBe(false);
    expect(new IpMatcher(["0.0.0.0/0"]).has("203.0.113.9")).toBe(true);
    for (const bad of ["10.0.0.0/33", "x", "10.0.0.0/", "::/129", "1.2.3.4/-1"]) {
      expect(() => new IpMatcher([bad]), bad).toThrow(TypeError);
    }
  });
});

describe("PROXY protocol header", () => {
  it("parses v1 TCP4, TCP6 and UNKNOWN, at any split", () => {
    const line = "PROXY TCP4 203.0.113.7 192.0.2.1 4242 80\r\nGET / HTTP/1.1\r\n";
    for (let cut = 0; cut < 42; cut++) expect(parseProxyHeader(bytes(line.slice(0, cut))).kind).toBe("more");
    expect(parseProxyHeader(bytes(line))).toEqual({
      kind: "header",
      length: 42,
      source: { transport: "tcp", hostname: "203.0.113.7", port: 4242 },
      destination: { transport: "tcp", hostname: "192.0.2.1", port: 80 },
    });
    expect(parseProxyHeader(bytes("PROXY TCP6 2001:db8::7 2001:db8::1 65535 443\r\n"))).toMatchObject({
      kind: "header",
      source: { hostname: "2001:db8::7", port: 65535 },
    });
    expect(parseProxyHeader(bytes("PROXY UNKNOWN\r\n"))).toEqual({ kind: "header", length: 15 });
    expect(parseProxyHeader(bytes("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"))).toMatchObject({ kind: "header" });
  });

  it("rejects malformed v1 lines and anything that is not a header", () => {
    for (
      const bad of [
        "GET / HTTP/1.1\r\n\r\n",
        "PROXY TCP4 203.0.113.7 192.0.2.1 4242\r\n",
        "PROXY TCP4 203.0.113.7 192.0.2.1 4242 65536\r\n",
        "PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n",
        "PROXY TCP6 203.0.113.7 192.0.2.1 1 2\r\n",
        "PROXY TCP4 203.0.113.7  192.0.2.1 1 2\r\n",
        "PROXY TCP4 203.0.113.07 192.0.2.1 1 2\r\n",
        "PROXY UDP4 203.0.113.7 192.0.2.1 1 2\r\n",
        "PROXY TCP4 203.0.113.7 192.0.2.1 01 2\r\n",
        "PROXY " + "x".repeat(120),
        "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "\r\n\r\nX",
      ]
    ) {
      expect(parseProxyHeader(bytes(bad)).kind, JSON.stringify(bad)).toBe("invalid");
    }
  });

  it("parses v2 PROXY TCP4 and TCP6 with TLVs, LOCAL, and other families, at any split", () => {
    const tcp4 = v2(1, 0x11, [203, 0, 113, 7, 192, 0, 2, 1, 0x10, 0x92, 0, 80], 7);
    for (let cut = 0; cut < tcp4.length; cut++) expect(parseProxyHeader(tcp4.subarray(0, cut)).kind).toBe("more");
    expect(parseProxyHeader(tcp4)).toEqual({
      kind: "header",
      length: tcp4.length,
      source: { transport: "tcp", hostname: "203.0.113.7", port: 4242 },
      destination: { transport: "tcp", hostname: "192.0.2.1", port: 80 },
    });
    const six = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 7];
    const tcp6 = v2(1, 0x21, [...six, ...six.slice(0, 15), 1, 0x01, 0xbb, 0x00, 0x50]);
    expect(parseProxyHeader(tcp6)).toMatchObject({ kind: "header", source: { hostname: "2001:db8::7", port: 443 } });
    expect(parseProxyHeader(v2(0, 0x00, []))).toEqual({ kind: "header", length: 16 });
    expect(parseProxyHeader(v2(1, 0x12, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2]))).toEqual({ kind: "header", length: 28 });
  });

  it("rejects bad v2 versions, commands, short address blocks and huge headers", () => {
    const good = v2(1, 0x11, [203, 0, 113, 7, 192, 0, 2, 1, 0x10, 0x92, 0, 80]);
    const version = good.slice();
    version[12] = 0x11;
    const command = good.slice();
    command[12] = 0x22;
    const sig = good.slice();
    sig[11] = 0x0b;
    expect(parseProxyHeader(version).kind).toBe("invalid");
    expect(parseProxyHeader(command).kind).toBe("invalid");
    expect(parseProxyHeader(sig).kind).toBe("invalid");
    expect(parseProxyHeader(v2(1, 0x11, [1, 2, 3, 4])).kind).toBe("invalid");
    expect(parseProxyHeader(new Uint8Array([...SIG, 0x21, 0x11, 0xff, 0xff])).kind).toBe("invalid");
  });
});

describe("trustProxy", () => {
  const info = (hostname: string) =>
    ({
      remoteAddr: { transport: "tcp", hostname, port: 5555 },
      completed: Promise.resolve(),
    }) as unknown as ServeHandlerInfo;
  const seen = (trust: true | string[], peer: string, headers: Record<string, string>) =>
    trustForwarded(
      (req, i) => Response.json({ url: req.url, host: i.remoteAddr.hostname, port: i.remoteAddr.port }),
      trust,
    )(new Request("http://origin.test:8000/a?b", { headers }), info(peer)) as Promise<Response>;

  it("takes the nearest untrusted X-Forwarded-For hop, and scheme and host from -Proto and -Host", async () => {
    const h = {
      "x-forwarded-for": "198.51.100.9, 10.1.1.1, 127.0.0.1",
      "x-forwarded-proto": "https, http",
      "x-forwarded-host": "shop.example:8443",
    };
    expect(await (await seen(["127.0.0.1"], "127.0.0.1", h)).json()).toEqual({
      url: "https://shop.example:8443/a?b",
      host: "10.1.1.1",
      port: 0,
    });
    expect((await (await seen(["127.0.0.0/8", "10.0.0.0/8"], "::ffff:127.0.0.1", h)).json()).host).toBe(
      "198.51.100.9",
    );
    expect((await (await seen(true, "203.0.113.1", h)).json()).host).toBe("198.51.100.9"); // all trusted: the leftmost
    expect((await (await seen(true, "203.0.113.1", { "x-forwarded-for": "10.0.0.1" })).json()).host).toBe(
      "10.0.0.1",
    );
  });

  it("takes from -Proto and -Host lists the value the outermost trusted proxy added", async () => {
    const h = {
      "x-forwarded-for": "198.51.100.9",
      "x-forwarded-proto": "https, http",
      "x-forwarded-host": "evil, shop",
    };
    expect((await (await seen(["127.0.0.1"], "127.0.0.1", h)).json()).url).toBe("http://shop/a?b");
    // Every hop trusted: the leftmost is the client, not a proxy; still the value our peer added.
    expect((await (await seen(true, "127.0.0.1", h)).json()).url).toBe("http://shop/a?b");
    // Two trusted proxies and a trusted client (10.0.0.5): the second value from the right.
    const two = { "x-forwarded-for": "10.0.0.5, 10.2.3.4", "x-forwarded-host": "evil, shop, inner" };
    expect((await (await seen(["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", two)).json()).url).toBe("http://shop/a?b");
  });

  it("leaves everything plain for an untrusted peer, and ignores what is malformed", async () => {
    const h = { "x-forwarded-for": "198.51.100.9", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example" };
    expect(await (await seen(["10.0.0.0/8"], "127.0.0.1", h)).json()).toEqual({
      url: "http://origin.test:8000/a?b",
      host: "127.0.0.1",
      port: 5555,
    });
    const bad = { "x-forwarded-for": "garbage, 10.0.0.2", "x-forwarded-proto": "gopher", "x-forwarded-host": "a/b@c" };
    expect(await (await seen(true, "127.0.0.1", bad)).json()).toEqual({
      url: "http://origin.test:8000/a?b",
      host: "10.0.0.2",
      port: 0,
    });
    expect(() => trustForwarded(() => new Response(), ["10.0.0.0/99"])).toThrow(TypeError);
  });
});
