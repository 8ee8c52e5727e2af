import { describe, expect, it } from "vitest";
import { memoryAdapter } from "../../adapters/memory.ts";
import { serve } from "../serve.ts";
import { ResourceGroup } from "../groups/group.ts";
import type { Handler, ServeOptions } from "../types.ts";

function start(fetch: Handler, options: ServeOptions = {}) {
  const adapter = memoryAdapter();
  const server = serve({ ...options, adapter, port: 0, onListen() {}, onError: options.onError, fetch });
  return { adapter, server };
}

const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

describe("HttpConnection over the memory adapter", () => {
  it("answers pipelined requests strictly in order even when the first is slowest", async () => {
    const { adapter, server } = start(async (req) => {
      const n = Number(new URL(req.url).searchParams.get("n"));
      await new Promise((r) => setTimeout(r, (5 - n) * 5));
      return new Response(`r${n};`);
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    let raw = "";
    for (let n = 0; n < 5; n++) raw += `GET /?n=${n} HTTP/1.1\r\nHost: x\r\n\r\n`;
    client.write(raw);
    const text = await client.until((t) => count(t, /r\d;/g) === 5);
    expect(text.match(/r\d;/g)).toEqual(["r0;", "r1;", "r2;", "r3;", "r4;"]);
    await server.group.shutdown();
  });

  it("sends 100 Continue only when the handler starts reading the body", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { adapter, server } = start(async (req) => {
      await gate;
      return new Response(await req.text());
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    client.write("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    await new Promise((r) => setTimeout(r, 20));
    expect(client.text()).toBe("");
    release();
    await client.until((t) => t.includes("100 Continue"));
    client.write("hello");
    const text = await client.until((t) => t.endsWith("hello"));
    expect(text.startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")).toBe(true);
    await server.group.shutdown();
  });

  it("a response from onError that cannot be sent either: the plain 500, and the connection serves on", async () => {
    const failing = () =>
      new Response(
        new ReadableStream({
          pull() {
            throw new Error("this stream fails at once");
          },
        }),
      );
    const errors = console.error;
    console.error = () => {};
    try {
      const { adapter, server } = start((req) => new URL(req.url).pathname === "/ok" ? new Response("ok") : failing(), {
        onError: () => failing(),
      });
      await new Promise((r) => setTimeout(r, 0));
      const client = adapter.connect();
      client.write("GET /fail HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
      const text = await client.until((t) => t.endsWith("ok"));
      expect(text).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n[^]*\r\n\r\nInternal Server Error/);
      expect(count(text, /HTTP\/1\.1 200 OK/g)).toBe(1);
      await server.group.shutdown();
    } finally {
      console.error = errors;
    }
  });

  it("discards a body the handler never read and parses the next request correctly", async () => {
    const { adapter, server } = start((req) => new Response(new URL(req.url).pathname));
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    client.write(
      "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET /second HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    const text = await client.until((t) => t.endsWith("/second"));
    expect(count(text, /HTTP\/1\.1 200/g)).toBe(2);
    await server.group.shutdown();
  });

  it("reads the request body with backpressure: a slow consumer pauses the socket", async () => {
    let pulledWhilePaused = 0;
    let received = 0;
    const { adapter, server } = start(async (req) => {
      const reader = req.body!.getReader();
      // Do not read for a while: the server must stop taking bytes.
      await new Promise((r) => setTimeout(r, 30));
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.byteLength;
      }
      return new Response(String(received));
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    const total = 1024 * 1024;
    client.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
    for (let i = 0; i < total / 16384; i++) client.write(new Uint8Array(16384));
    await new Promise((r) => setTimeout(r, 10));
    pulledWhilePaused = received;
    const text = await client.until((t) => t.endsWith(String(total)));
    expect(pulledWhilePaused).toBe(0);
    expect(text.endsWith(String(total))).toBe(true);
    await server.group.shutdown();
  });

  it("streams a response only as fast as the client reads it", async () => {
    let produced = 0;
    const { adapter, server } = start(() =>
      new Response(
        new ReadableStream({
          pull(c) {
            if (produced >= 64) return c.close();
            produced++;
            c.enqueue(new Uint8Array(16 * 1024));
          },
        }, { highWaterMark: 0 }),
      )
    );
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    client.pause();
    client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, 30));
    // 1 MiB would be produced by a server that ignores backpressure.
    expect(produced).toBeLessThan(10);
    client.resume();
    await client.until((t) => t.endsWith("0\r\n\r\n"));
    expect(produced).toBe(64);
    await server.group.shutdown();
  });

  it("aborts request.signal when the client disconnects, and only then", async () => {
    const signals: AbortSignal[] = [];
    const { adapter, server } = start(async (req) => {
      signals.push(req.signal);
      if (new URL(req.url).pathname === "/hang") await new Promise((r) => req.signal.addEventListener("abort", r));
      return new Response("ok");
    });
    await new Promise((r) => setTimeout(r, 0));
    const a = adapter.connect();
    a.write("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
    await a.until((t) => t.endsWith("ok"));
    const b = adapter.connect();
    b.write("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, 10));
    b.destroy();
    await new Promise((r) => setTimeout(r, 10));
    expect(signals.map((s) => s.aborted)).toEqual([false, true]);
    await server.group.shutdown();
  });

  it("answers 500 for a throwing handler or a non-Response, and keeps the connection", async () => {
    const errors: unknown[] = [];
    const { adapter, server } = start((req) => {
      const path = new URL(req.url).pathname;
      if (path === "/throw") throw new Error("boom");
      if (path === "/bad") return "nope" as unknown as Response;
      return new Response("fine");
    }, {
      onError: (e) => {
        errors.push(e);
        return new Response("custom 500", { status: 500 });
      },
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    client.write(
      "GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    const text = await client.until((t) => t.endsWith("fine"));
    expect(count(text, /HTTP\/1\.1 500/g)).toBe(2);
    expect(count(text, /custom 500/g)).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom", expect.stringContaining("instead of a Response")]);
    await server.group.shutdown();
  });

  it("closes after answering a bad request, with a clear message", async () => {
    const { adapter, server } = start(() => new Response("never"));
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    client.write("GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n");
    const text = await client.until(() => false);
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain("connection: close");
    expect(text).toContain("invalid character in field name");
    expect(client.ended).toBe(true);
    await server.group.shutdown();
  });

  it("at maxConnections parks new clients until a slot frees (wait), or answers 503 (reject)", async () => {
    const { adapter, server } = start((req) => new Response(new URL(req.url).pathname), {
      limits: { maxConnections: 1 },
    });
    await new Promise((r) => setTimeout(r, 0));
    const a = adapter.connect();
    a.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    await a.until((t) => t.endsWith("/a"));
    const b = adapter.connect();
    b.write("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, 20));
    expect(b.text()).toBe("");
    a.destroy();
    expect(await b.until((t) => t.endsWith("/b"))).toMatch(/^HTTP\/1\.1 200/);
    await server.group.shutdown();

    const rejecting = start(() => new Response("ok"), { limits: { maxConnections: 1, atMaxConnections: "reject" } });
    await new Promise((r) => setTimeout(r, 0));
    const c = rejecting.adapter.connect();
    c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.until((t) => t.endsWith("ok"));
    const d = rejecting.adapter.connect();
    const text = await d.until(() => false);
    expect(text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    await rejecting.server.group.shutdown();
  });

  it("names the request group through ResourceGroup.current(), before and after an await", async () => {
    const seen: boolean[] = [];
    const { adapter, server } = start(async (_req, info) => {
      seen.push(ResourceGroup.current() === info.group);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(ResourceGroup.current() === info.group);
      return new Response("ok");
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    client.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    await client.until((t) => (t.match(/ok/g) ?? []).length === 2);
    expect(seen).toEqual([true, true, true, true]);
    await server.group.shutdown();
  });

  it("sizes string bodies by their UTF-8 bytes and keeps latin1 header values one byte each", async () => {
    const bodies = ["plain", "h\u00e9llo \u2713", "", "x".repeat(5000)];
    const { adapter, server } = start((req) => {
      const n = Number(new URL(req.url).searchParams.get("n"));
      return new Response(bodies[n % bodies.length], { headers: { "x-n": `caf\u00e9 ${n}` } });
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    let raw = "";
    for (let n = 0; n < 16; n++) raw += `GET /?n=${n} HTTP/1.1\r\nHost: x\r\n\r\n`;
    client.write(raw);
    const text = await client.until((t) => (t.match(/HTTP\/1\.1 200/g) ?? []).length === 16 && t.endsWith("x"));
    const utf8 = (s: string) => String.fromCharCode(...new TextEncoder().encode(s));
    const answers = text.split(/(?=HTTP\/1\.1 200 OK\r\n)/);
    expect(answers.length).toBe(16);
    answers.forEach((answer, n) => {
      const body = utf8(bodies[n % bodies.length]);
      expect(answer).toContain(`\r\nx-n: caf\u00e9 ${n}\r\n`);
      expect(answer).toContain(`\r\ncontent-length: ${body.length}\r\n`);
      expect(answer.endsWith(`\r\n\r\n${body}`)).toBe(true);
    });
    await server.group.shutdown();
  });

  it("answers 500 for what a synchronous handler returns that is no Response, even a `then` that throws", async () => {
    const values: Record<string, unknown> = {
      undefined: undefined,
      string: "not a Response",
      "throwing-then": {
        get then() {
          throw new Error("then getter");
        },
      },
      thenable: { then: (resolve: (r: Response) => void) => resolve(new Response("via then")) },
    };
    const errors: unknown[] = [];
    const { adapter, server } = start((req) => values[new URL(req.url).pathname.slice(1)] as Response, {
      onError: (e) => {
        errors.push(e);
        return new Response("handled", { status: 500 });
      },
    });
    await new Promise((r) => setTimeout(r, 0));
    const client = adapter.connect();
    for (const name of Object.keys(values)) client.write(`GET /${name} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const text = await client.until((t) => count(t, /\r\n\r\n(handled|via then)/g) === 4);
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(["HTTP/1.1 500", "HTTP/1.1 500", "HTTP/1.1 500", "HTTP/1.1 200"]);
    expect(errors.map((e) => (e as Error).message)).toEqual([
      "handler returned undefined instead of a Response",
      "handler returned string instead of a Response",
      "then getter",
    ]);
    await server.group.shutdown();
  });
});
