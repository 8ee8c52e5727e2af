/**
 * PROXY protocol and trusted forwarding over real sockets under node, deno
 * and bun: what the handler sees as the client's address and the URL.
 */
import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { printStderrOnFailure, RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const GET = "GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

/** Writes `chunks` (one write each, a few ms apart) and resolves with everything read until the close. */
function exchange(port: number, chunks: (string | Uint8Array)[], timeoutMs = 8000): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (d) => got.push(d));
    s.on("error", () => {}); // a reset counts as a close here
    s.on("close", () => resolve({ text: Buffer.concat(got).toString("latin1"), ms: Date.now() - t0 }));
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(got).toString("latin1")}`));
    });
    s.on("connect", async () => {
      for (const c of chunks) {
        if (s.destroyed) return;
        s.write(typeof c === "string" ? Buffer.from(c, "latin1") : c);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
}

function json(text: string) {
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  return JSON.parse(body) as { remoteAddr: { hostname: string; port: number }; url: string; xff: string | null };
}

function v2(family: number, addresses: number[]): Uint8Array {
  return new Uint8Array([...SIG, 0x21, family, 0, addresses.length, ...addresses]);
}

describe.each(RUNTIMES)("proxies on %s", (runtime) => {
  let server: RunningServer;
  let ports: Record<string, number>;
  beforeAll(async () => {
    server = await startServer(runtime, "proxy.mjs");
    ports = JSON.parse(/^PORTS (.*)$/m.exec(server.stdout())![1]);
  });
  afterAll(() => server?.stop());
  beforeEach((ctx) => printStderrOnFailure(ctx, runtime, () => server));

  it("takes the client's address from a PROXY v1 header, split at every byte too", async () => {
    const header = "PROXY TCP4 203.0.113.7 127.0.0.1 4242 80\r\n";
    const one = json((await exchange(ports.pp, [header + GET])).text);
    expect(one.remoteAddr).toEqual({ transport: "tcp", hostname: "203.0.113.7", port: 4242 });
    const split = json((await exchange(ports.pp, [...header].concat([GET]))).text);
    expect(split.remoteAddr.hostname).toBe("203.0.113.7");
    const six = json((await exchange(ports.pp, ["PROXY TCP6 2001:db8::7 ::1 65535 80\r\n", GET])).text);
    expect(six.remoteAddr).toEqual({ transport: "tcp", hostname: "2001:db8::7", port: 65535 });
  });

  it("takes it from a PROXY v2 header (TCP4, TCP6, LOCAL) and keeps it for every request on the connection", async () => {
    const four = v2(0x11, [198, 51, 100, 2, 127, 0, 0, 1, 0x1f, 0x90, 0, 80]);
    const keep = "GET /who HTTP/1.1\r\nHost: a\r\n\r\n";
    const { text } = await exchange(ports.pp, [four, keep, GET]);
    const bodies = text.split("HTTP/1.1 200 OK").slice(1).map((r) => json("x\r\n\r\n" + r.slice(r.indexOf("{"))));
    expect(bodies.map((b) => b.remoteAddr)).toEqual([
      { transport: "tcp", hostname: "198.51.100.2", port: 8080 },
      { transport: "tcp", hostname: "198.51.100.2", port: 8080 },
    ]);
    const ip6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 9];
    const six = v2(0x21, [...ip6, ...new Array(15).fill(0), 1, 0x01, 0xbb, 0, 80]);
    expect(json((await exchange(ports.pp, [six, GET])).text).remoteAddr.hostname).toBe("2001:db8::9");
    const local = new Uint8Array([...SIG, 0x20, 0x00, 0, 0]);
    expect(json((await exchange(ports.pp, [local, GET])).text).remoteAddr.hostname).toBe("127.0.0.1");
  });

  it("answers 400 and closes a connection without a valid header, and closes a silent one after its deadline", async () => {
    const plain = await exchange(ports.pp, [GET]);
    expect(plain.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(plain.text).toContain("PROXY protocol header");
    const bad = await exchange(ports.pp, ["PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n", GET]);
    expect(bad.text).toMatch(/^HTTP\/1\.1 400 /);
    const silent = await exchange(ports.pp, ["PROXY TCP4 203.0.113.7"]);
    expect(silent.text).toBe("");
    expect(silent.ms).toBeGreaterThanOrEqual(2500);
    expect(silent.ms).toBeLessThan(6000);
    // The server is fine afterwards.
    expect(json((await exchange(ports.pp, ["PROXY UNKNOWN\r\n", GET])).text).remoteAddr.hostname).toBe("127.0.0.1");
  }, 15_000);

  it("believes X-Forwarded-* only from trusted peers, and leaves them plain without the option", async () => {
    const fwd = "X-Forwarded-For: 198.51.100.9, 10.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n";
    const req = `GET /who?q=1 HTTP/1.1\r\nHost: a:1\r\n${fwd}Connection: close\r\n\r\n`;
    const trusted = json((await exchange(ports.trust, [req])).text);
    expect(trusted.remoteAddr).toEqual({ transport: "tcp", hostname: "198.51.100.9", port: 0 });
    expect(trusted.url).toBe("https://shop.example/who?q=1");
    for (const port of [ports.plain, ports.trustOthers]) {
      const plain = json((await exchange(port, [req])).text);
      expect(plain.remoteAddr.hostname).toBe("127.0.0.1");
      expect(plain.remoteAddr.port).toBeGreaterThan(0);
      expect(plain.url).toBe("http://a:1/who?q=1");
      expect(plain.xff).toBe("198.51.100.9, 10.2.3.4");
    }
  });

  // Apache's mod_proxy appends its own X-Forwarded-Host to the client's, and
  // HAProxy or Apache pass a client's X-Forwarded-Proto on: the first value
  // was the client's, and request.url became https://evil.example/.
  it("takes from a list of -Host and -Proto the value the outermost trusted proxy added, not the client's", async () => {
    const ask = async (xff: string, fields: string) =>
      json((await exchange(ports.trust, [`GET /who HTTP/1.1\r\nHost: a:1\r\nX-Forwarded-For: ${xff}\r\n${fields}Connection: close\r\n\r\n`]))
        .text);
    // One trusted proxy (our peer) that appended: the last value.
    const apache = await ask("198.51.100.9", "X-Forwarded-Host: evil.example, shop.example\r\n");
    expect([apache.url, apache.remoteAddr.hostname]).toEqual(["http://shop.example/who", "198.51.100.9"]);
    // Two (our peer and 10.2.3.4, which is trusted), each appending: the second from the right.
    const two = await ask(
      "198.51.100.9, 10.2.3.4",
      "X-Forwarded-Host: evil.example, shop.example, inner:8080\r\nX-Forwarded-Proto: http, https, http\r\n",
    );
    expect(two.url).toBe("https://shop.example/who");
    // A proxy that sets the field (nginx): one value, taken whatever the count.
    expect((await ask("198.51.100.9, 10.2.3.4", "X-Forwarded-Host: shop.example\r\n")).url).toBe(
      "http://shop.example/who",
    );
  });

  it("gives every request on a kept connection its own forwarded URL and client, as a whole Request", async () => {
    const fwd = (host: string, extra = "") =>
      `X-Forwarded-For: 198.51.100.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: ${host}\r\n${extra}`;
    const get = (target: string, fields: string) => `GET ${target} HTTP/1.1\r\nHost: a:1\r\n${fields}\r\n`;
    const post = `POST /full?x=1 HTTP/1.1\r\nHost: a:1\r\n${fwd("shop.example")}Content-Type: text/plain\r\n` +
      `Content-Length: 5\r\n\r\nhello`;
    const { text } = await exchange(ports.trust, [
      get("/who?a", fwd("shop.example")) +
      post +
      get("/who/b", fwd("other.example:8443")) +
      get("/who", fwd("a/b@c")) + // not a host: the URL is left alone
      get("/who?again", fwd("shop.example")) +
      // The same forwarded fields under another Host of the request's own: the path is still this request's.
      `GET /other HTTP/1.1\r\nHost: b:2\r\n${fwd("shop.example")}\r\n` +
      `GET /third HTTP/1.1\r\nHost: a:10\r\n${fwd("shop.example")}\r\n` +
      // Only the scheme forwarded: the host is the request's own, which changes.
      `GET /p HTTP/1.1\r\nHost: a:1\r\nX-Forwarded-Proto: https\r\n\r\n` +
      `GET /p HTTP/1.1\r\nHost: b:2\r\nX-Forwarded-Proto: https\r\n\r\n` +
      // lower-case names, the client's address over two lines (10.0.0.3 is trusted: the hop before it counts)
      get("/who", "x-forwarded-proto: http\r\nx-forwarded-for: 203.0.113.4\r\nX-FORWARDED-FOR: 10.0.0.3\r\n") +
      get("/who", "Connection: close\r\n"),
    ]);
    const seen = text.split("HTTP/1.1 200 OK").slice(1).map((r) => JSON.parse(r.slice(r.indexOf("{"))));
    expect(seen.map((s) => s.url)).toEqual([
      "https://shop.example/who?a",
      "https://shop.example/full?x=1",
      "https://other.example:8443/who/b",
      "http://a:1/who",
      "https://shop.example/who?again",
      "https://shop.example/other",
      "https://shop.example/third",
      "https://a:1/p",
      "https://b:2/p",
      "http://a:1/who",
      "http://a:1/who",
    ]);
    expect(seen.map((s) => s.remoteAddr.hostname)).toEqual([
      "198.51.100.9",
      "198.51.100.9",
      "198.51.100.9",
      "198.51.100.9",
      "198.51.100.9",
      "198.51.100.9",
      "198.51.100.9",
      "127.0.0.1",
      "127.0.0.1",
      "203.0.113.4",
      "127.0.0.1",
    ]);
    expect(seen[9].xff).toBe("203.0.113.4, 10.0.0.3");
    expect(seen[1]).toMatchObject({
      isRequest: true,
      method: "POST",
      body: "hello",
      type: "text/plain",
      copy: "https://shop.example/full?x=1",
      aborted: false,
      completed: true,
      group: "function",
    });
  });

  it("on a unix socket (nginx's proxy_pass http://unix:…): a list trusts nobody there, true trusts the peer", async () => {
    const ask = (socket: string) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(socket);
        const got: Buffer[] = [];
        s.on("data", (d) => got.push(d));
        s.on("error", reject);
        s.on("close", () => resolve(Buffer.concat(got).toString("latin1")));
        s.write(
          "GET /who HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: https\r\n" +
            "Connection: close\r\n\r\n",
        );
      });
    const list = await ask(ports.unixList as unknown as string);
    expect(list).toMatch(/^HTTP\/1\.1 200 /); // was a 500 on every request: the peer has no hostname
    expect(json(list)).toMatchObject({ remoteAddr: { transport: "unix", path: "" }, url: "http://a/who" });
    const all = json(await ask(ports.unixAll as unknown as string));
    expect(all).toMatchObject({ remoteAddr: { transport: "tcp", hostname: "198.51.100.7", port: 0 }, url: "https://a/who" });
  });

  it("judges trust on the PROXY header's address when both are on", async () => {
    const fwd = "GET /who HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.50\r\nConnection: close\r\n\r\n";
    const fromLb = json((await exchange(ports.ppTrust, ["PROXY TCP4 192.0.2.10 127.0.0.1 1000 80\r\n" + fwd])).text);
    expect(fromLb.remoteAddr.hostname).toBe("203.0.113.50");
    const fromOther = json((await exchange(ports.ppTrust, ["PROXY TCP4 198.51.100.1 127.0.0.1 1000 80\r\n" + fwd])).text);
    expect(fromOther.remoteAddr).toEqual({ transport: "tcp", hostname: "198.51.100.1", port: 1000 });
  });
});
