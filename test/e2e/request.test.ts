/**
 * The request a handler gets works wherever a platform Request does, under
 * node, deno and bun: `new Request(req)`, `new Request(req, init)`,
 * `new Request(req.url, req)`, subclasses, `req.clone()`, a BYOB reader on
 * `req.body`, `fetch(req)` and the streaming proxy pattern (against a second
 * server), and `req.formData()` with file parts.
 *
 * The fixture (test/fixtures/request.mjs) answers with JSON describing what
 * the handler saw; the second server is a node:http server in this process
 * that describes what reached it.
 */
import http from "node:http";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { printStderrOnFailure, RUNTIMES, startServer, type RunningServer, type Runtime } from "../helpers/runtime.ts";
import { req, withRaw } from "../helpers/raw.ts";
import { sha256 } from "../helpers/util.ts";

interface Seen {
  method: string;
  url: string;
  contentType: string | null;
  xa: string | null;
  bytes: number;
  sha256: string;
}

// The second server: says what it received.
let upstream: http.Server;
let upstreamUrl: string;

beforeAll(async () => {
  upstream = http.createServer((request, response) => {
    // Coded answers, for `return fetch(upstream)` (see "a fetch() response").
    const plain = Buffer.from("hello from upstream, ".repeat(40));
    switch (request.url) {
      case "/gzip-length": {
        const coded = zlib.gzipSync(plain);
        response.writeHead(200, { "content-encoding": "gzip", "content-length": coded.length, "x-up": "1" });
        return void response.end(coded);
      }
      case "/gzip-chunked":
        response.writeHead(200, { "content-encoding": "gzip", "x-up": "1" });
        return void response.end(zlib.gzipSync(plain));
      case "/br":
        response.writeHead(200, { "content-encoding": "br", "x-up": "1" });
        return void response.end(zlib.brotliCompressSync(plain));
      case "/deflate":
      case "/x-gzip":
      case "/gzip-identity":
      case "/gzip-gzip":
      case "/gzip-comma": {
        // Codings only some runtimes' fetch undoes (Deno: neither deflate nor x-gzip; none a
        // list, but for Node, which gives up at "identity"; Bun one coding, "identity" aside).
        const field = { "/deflate": "deflate", "/x-gzip": "x-gzip", "/gzip-identity": "gzip, identity", "/gzip-gzip": "gzip, gzip", "/gzip-comma": "gzip," }[
          request.url
        ]!;
        response.writeHead(200, { "content-encoding": field, "x-up": "1" });
        return void response.end(codeAs(field, plain));
      }
      case "/unknown-coding":
        // A coding fetch does not undo: the bytes pass as they are, and so does the field.
        response.writeHead(200, { "content-encoding": "x-custom", "content-length": 5 });
        return void response.end("coded");
    }
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: Seen = {
        method: request.method!,
        url: request.url!,
        contentType: request.headers["content-type"] ?? null,
        xa: (request.headers["x-a"] as string | undefined) ?? null,
        bytes: body.length,
        sha256: sha256(body),
      };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => upstream.close(r));
});

// `body` coded as a Content-Encoding field says (codings in the order applied), and decoded back.
function codeAs(field: string, body: Buffer): Buffer {
  for (const c of field.split(",").map((x) => x.trim())) {
    if (c === "gzip" || c === "x-gzip") body = zlib.gzipSync(body);
    else if (c === "deflate") body = zlib.deflateSync(body);
  }
  return body;
}
function decodeAs(field: string, body: Buffer): Buffer {
  for (const c of field.split(",").map((x) => x.trim()).reverse()) {
    if (c === "gzip" || c === "x-gzip") body = zlib.gunzipSync(body);
    else if (c === "deflate") body = zlib.inflateSync(body);
  }
  return body;
}

/** A deterministic body of `n` bytes with every byte value in it. */
function bytesOf(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

describe.each(RUNTIMES)("the request as a platform Request, on %s", (runtime: Runtime) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer(runtime, "request.mjs");
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  const post = async (path: string, body: BodyInit, headers: Record<string, string> = {}) => {
    const r = await fetch(server.url + path, {
      method: "POST",
      body,
      headers: { "x-a": "a-value", ...headers },
      signal: AbortSignal.timeout(20_000),
    });
    expect(r.status).toBe(200);
    return await r.json();
  };

  it("new Request(req) keeps the method, URL, headers and body", async () => {
    expect(await post("/new-request?q=1", "the body")).toEqual({
      isRequest: true,
      method: "POST",
      url: `${server.url}/new-request?q=1`,
      xa: "a-value",
      xinit: null,
      body: "the body",
    });
    const get = await (await fetch(server.url + "/new-request", { headers: { "x-a": "g" } })).json();
    expect(get).toEqual({
      isRequest: true,
      method: "GET",
      url: `${server.url}/new-request`,
      xa: "g",
      xinit: null,
      body: null,
    });
  });

  it("new Request(req, init) keeps the method and body, and takes the init's headers", async () => {
    expect(await post("/new-request-init", "posted")).toEqual({
      isRequest: true,
      method: "POST",
      url: `${server.url}/new-request-init`,
      xa: null, // the init's headers replace the request's
      xinit: "1",
      body: "posted",
    });
  });

  it("new Request(req.url, req) reads the request as an init", async () => {
    expect(await post("/url-init", "as init")).toEqual({
      isRequest: true,
      method: "POST",
      url: `${server.url}/url-init`,
      xa: "a-value",
      xinit: null,
      body: "as init",
    });
  });

  it("a subclass of Request takes the request", async () => {
    expect(await post("/subclass", "sub")).toEqual({
      tag: "tagged",
      isTagged: true,
      isRequest: true,
      method: "POST",
      url: `${server.url}/subclass`,
      xa: "a-value",
      xinit: null,
      body: "sub",
    });
  });

  // The bridge that lets the platform's Request take portico's was put in
  // place by serve(): a subclass declared before it (at a module's top, after
  // importing portico) extended the platform's own, and new Early(req) threw
  // (Node: "reading 'window'", Deno: "not of type Request"); bun took it.
  it("a subclass of Request declared before serve() takes the request too", async () => {
    expect(await post("/subclass-early", "early")).toEqual({
      tag: "early",
      isTagged: true,
      isRequest: true,
      method: "POST",
      url: `${server.url}/subclass-early`,
      xa: "a-value",
      xinit: null,
      body: "early",
    });
  });

  it("new Request(req) after its body was read throws a TypeError, as with a platform Request", async () => {
    expect(await post("/used", "read first")).toEqual({ threw: "TypeError" });
  });

  it("req.clone() gives two readable bodies", async () => {
    expect(await post("/clone", "twice")).toEqual({
      copy: {
        isRequest: true,
        method: "POST",
        url: `${server.url}/clone`,
        xa: "a-value",
        xinit: null,
        body: "twice",
      },
      original: "twice",
      bodyUsed: true,
    });
  });

  it("req.body is a byte stream: a BYOB reader reads it into the caller's buffer", async () => {
    for (const [size, n] of [[7, 1000], [4096, 1 << 20]]) {
      const body = bytesOf(n);
      const seen = await post(`/byob?size=${size}`, body);
      expect(seen.bytes).toBe(n);
      expect(seen.sha256).toBe(sha256(body));
      expect(seen.maxRead).toBeLessThanOrEqual(size);
      expect(seen.reads).toBeGreaterThanOrEqual(Math.ceil(n / size));
    }
  });

  it("a chunked body reaches a BYOB reader too", async () => {
    await withRaw(server, async (c) => {
      await c.write(
        req("POST", "/byob?size=3", { "transfer-encoding": "chunked" }, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
      );
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text())).toEqual({ bytes: 11, reads: 4, maxRead: 3, sha256: sha256("hello world") });
    });
  });

  it("passes a request on with fetch(url, { method, headers, body: req.body, duplex }) to a second server", async () => {
    const body = bytesOf(3 << 20); // more than every queue on the way: backpressure throughout
    const seen = await post(`/proxy?to=${encodeURIComponent(upstreamUrl + "/up?x=1")}`, body, {
      "content-type": "application/x-test",
    });
    expect(seen).toEqual({
      upstreamStatus: 200,
      upstream: {
        method: "POST",
        url: "/up?x=1",
        contentType: "application/x-test",
        xa: "a-value",
        bytes: body.length,
        sha256: sha256(body),
      },
    });
  });

  it("passes a chunked request on the same way, without its hop-by-hop fields", async () => {
    await withRaw(server, async (c) => {
      const target = `/proxy?hop&to=${encodeURIComponent(upstreamUrl + "/chunked")}`;
      await c.write(
        req("PUT", target, { "transfer-encoding": "chunked", "x-a": "c" }, "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"),
      );
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text())).toEqual({
        upstreamStatus: 200,
        upstream: { method: "PUT", url: "/chunked", contentType: null, xa: "c", bytes: 6, sha256: sha256("abcdef") },
      });
    });
  });

  it("fetch(req) sends the request itself to the server its URL names", async () => {
    // An absolute-form target makes req.url the second server's URL: a forward proxy.
    await withRaw(server, async (c) => {
      const body = "forwarded body";
      await c.write(req("POST", `${upstreamUrl}/fwd?y=2`, { "x-forward": "fetch-request", "x-a": "f" }, body));
      const r = await c.readResponse();
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text())).toEqual({
        upstreamStatus: 200,
        upstream: { method: "POST", url: "/fwd?y=2", contentType: null, xa: "f", bytes: body.length, sha256: sha256(body) },
      });
    });
  });

  it("fetch(url, req) takes the request as its init", async () => {
    const seen = await post(`/fetch-init?to=${encodeURIComponent(upstreamUrl + "/init")}`, "init body");
    expect(seen).toEqual({
      upstreamStatus: 200,
      upstream: {
        method: "POST",
        url: "/init",
        contentType: "text/plain;charset=UTF-8",
        xa: "a-value",
        bytes: 9,
        sha256: sha256("init body"),
      },
    });
  });

  it("req.text() after a look at req.body reads a request without a body as empty, and one with a body whole", async () => {
    // A null body is never used (as a platform Request's: bodyUsed stays false, every read gives "").
    for (const method of ["GET", "DELETE"]) {
      const r = await fetch(server.url + "/touched", { method });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ stream: null, text: "", bodyUsed: false });
    }
    const empty = await fetch(server.url + "/touched", { method: "POST", body: "" });
    expect(await empty.json()).toEqual({ stream: null, text: "", bodyUsed: false });
    expect(await post("/touched", "some text")).toEqual({ stream: "stream", text: "some text", bodyUsed: true });
  });

  // curl sends `Expect: 100-continue` with every upload above 1 KiB.
  const uploadWithExpect = async (target: string, body: Uint8Array) => {
    return await withRaw(server, async (c) => {
      await c.write(req("POST", target, { "x-a": "e", expect: "100-continue", "content-length": String(body.length) }));
      // The 100 comes when the handler reads the body; then the body is sent.
      const deadline = Date.now() + 10_000;
      while (!c.buffered.toString("latin1").startsWith("HTTP/1.1 100 Continue\r\n\r\n")) {
        if (Date.now() > deadline) throw new Error(`no 100 Continue: ${JSON.stringify(c.buffered.toString())}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      await c.write(body);
      const r = await c.readResponse({ timeoutMs: 20_000 });
      expect(r.interim.map((i) => i.status)).toEqual([100]);
      expect(r.status).toBe(200);
      return JSON.parse(r.text());
    });
  };

  it("passes an upload sent with Expect: 100-continue on with fetch(url, req) and with the README's pattern", async () => {
    const body = bytesOf(200_000);
    for (const [route, path] of [["/fetch-init", "/expect-init"], ["/proxy?hop&", "/expect-proxy"]]) {
      const target = `${route.includes("?") ? route : route + "?"}to=${encodeURIComponent(upstreamUrl + path)}`;
      expect(await uploadWithExpect(target, body)).toEqual({
        upstreamStatus: 200,
        upstream: { method: "POST", url: path, contentType: null, xa: "e", bytes: body.length, sha256: sha256(body) },
      });
    }
  });

  it("req.constructor is the global Request, and several Cookie lines are joined with '; '", async () => {
    await withRaw(server, async (c) => {
      await c.write(
        "GET /kind HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nX-Other: o\r\nCookie: b=2; c=3\r\n\r\n",
      );
      const r = await c.readResponse();
      expect(JSON.parse(r.body.toString())).toEqual({
        isGlobal: true,
        isKind: true,
        made: "POST http://example.test/y made",
        cookie: "a=1; b=2; c=3",
      });
    });
  });

  // As the platform's Request: read from its stream counts as used (a second read
  // gave "" rather than a TypeError), a body read whole leaves its stream locked,
  // and the request's other properties still answer (req.cache threw after a read).
  it.each([
    ["text", { bodyUsed: true, locked: true }],
    ["forawait", { bodyUsed: true, locked: false }],
    ["partial", { bodyUsed: true, locked: false }],
    ["locked", { bodyUsed: false, locked: true }],
  ])("a request whose body was read (%s) says so, refuses a second read and copies, and still answers", async (how, state) => {
    const r = await fetch(`${server.url}/read-then?how=${how}`, { method: "POST", body: "some body" });
    expect(await r.json()).toEqual({
      ...state,
      cache: "default",
      text: "TypeError",
      blob: "TypeError",
      clone: "TypeError",
      copy: "TypeError",
      fetch: "TypeError",
    });
  });

  // A request whose body was read, passed on through a Router mount: the inner
  // handler sees a used body (it was a 500: the platform copy of a read body threw).
  it("a request read whole and passed on through a Router mount says its body was used", async () => {
    for (const path of ["passed-on-read", "passed-on-read-touched"]) {
      const r = await fetch(`${server.url}/m/${path}?q=1`, { method: "POST", body: "read before" });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ url: `${server.url}/${path}?q=1`, bodyUsed: true, text: "TypeError" });
    }
  });

  it("a request moved by a Router mount shares its body: read by one, it is used for both", async () => {
    const r = await fetch(`${server.url}/m/read-after-mount`, { method: "POST", body: "once" });
    expect(await r.json()).toEqual({ inner: '"once"', outer: "TypeError", outerUsed: true });
  });

  it("req.blob() is typed as the platform types a body", async () => {
    const typed = async (type: string) =>
      (await (await fetch(`${server.url}/blob-type`, { method: "POST", body: "x", headers: { "content-type": type } }))
        .json()).type;
    expect(await typed("Text/Plain; Charset=UTF-8")).toBe("text/plain;charset=utf-8");
    expect(await typed("garbage")).toBe("");
  });

  // A `return fetch(upstream)` proxy: fetch() has decoded the body, the headers
  // still say gzip and give the coded length. (Was a 500 with a length, and plain
  // bytes labelled gzip without; clients failed to decode them.)
  it("a fetch() response whose body fetch decoded goes out without the upstream's coding", async () => {
    const plain = "hello from upstream, ".repeat(40);
    for (const path of ["/gzip-length", "/gzip-chunked", "/br"]) {
      await withRaw(server, async (c) => {
        await c.write(req("GET", `/return-fetch?to=${encodeURIComponent(upstreamUrl + path)}`));
        const r = await c.readResponse();
        expect([path, r.status, r.header("content-encoding"), r.header("x-up")]).toEqual([path, 200, null, "1"]);
        // The upstream gave no type, and none is made up (Bun's type probe said text/plain).
        expect(r.header("content-type")).toBe(null);
        expect(r.body.toString()).toBe(plain);
        if (r.header("content-length") !== null) expect(Number(r.header("content-length"))).toBe(plain.length);
        // HEAD: the decoded length, or none.
        await c.write(req("HEAD", `/return-fetch?to=${encodeURIComponent(upstreamUrl + path)}`));
        const h = await c.readResponse({ method: "HEAD" });
        expect([h.status, h.header("content-encoding")]).toEqual([200, null]);
        expect([null, String(plain.length)]).toContain(h.header("content-length"));
      });
    }
    // Codings some runtimes' fetch undoes and others do not: either way the client gets
    // what the fields say (decoded and unlabelled, or coded and labelled), never a mix.
    for (const [path, field] of [
      ["/deflate", "deflate"],
      ["/x-gzip", "x-gzip"],
      ["/gzip-identity", "gzip, identity"],
      ["/gzip-gzip", "gzip, gzip"],
      ["/gzip-comma", "gzip,"],
    ]) {
      await withRaw(server, async (c) => {
        await c.write(req("GET", `/return-fetch?to=${encodeURIComponent(upstreamUrl + path)}`));
        const r = await c.readResponse();
        expect([path, r.status, r.header("x-up")]).toEqual([path, 200, "1"]);
        const coding = r.header("content-encoding");
        expect([path, coding === null || coding === field]).toEqual([path, true]);
        expect(coding === null ? r.body.toString() : decodeAs(field, r.body).toString()).toBe(plain);
      });
    }
    // A coding fetch does not undo, and a response the handler coded itself, keep theirs.
    await withRaw(server, async (c) => {
      await c.write(req("GET", `/return-fetch?to=${encodeURIComponent(upstreamUrl + "/unknown-coding")}`));
      const r = await c.readResponse();
      expect([r.status, r.header("content-encoding"), r.body.toString()]).toEqual([200, "x-custom", "coded"]);
      await c.write(req("GET", "/self-gzip"));
      const g = await c.readResponse();
      expect([g.status, g.header("content-encoding")]).toEqual([200, "gzip"]);
      expect(zlib.gunzipSync(g.body).toString()).toBe("zipped by the handler");
    });
  });

  it.each(["reader", "text"])(
    "new Request(req, { body }) and fetch(req, { body }) once req's body was read (%s), chunked or not",
    async (how) => {
      for (const chunked of [false, true]) {
        const body = chunked
          ? new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode("hello"));
              c.close();
            },
          })
          : "hello";
        const r = await fetch(`${server.url}/rewrap?how=${how}`, {
          method: "POST",
          body,
          // @ts-ignore: duplex, for a stream body
          duplex: "half",
        });
        expect(r.status).toBe(200);
        expect(await r.json()).toEqual({ read: 5, again: "POST replaced", fetched: "again: POST fetched" });
      }
    },
  );

  it("a copy of the request leaves out the Expect portico has answered; the request itself still shows it", async () => {
    await withRaw(server, async (c) => {
      await c.write(req("GET", "/copy-expect", { expect: "100-continue" }));
      const r = await c.readResponse();
      expect(JSON.parse(r.text())).toEqual({ original: "100-continue", copy: null });
    });
  });

  // The platforms' own parsers disagree on these (src/forms/multipart.ts):
  // every runtime must give what Node, Deno or Bun alone got wrong.
  // `new Response(bytes, { headers }).formData()` too: Hono's c.req.parseBody() reads the body so.
  it.each(["/form-error", "/response-form-error"])("%s: formData() gives the same form on every runtime", async (route) => {
    const boundary = "b0undary";
    const type = { "content-type": `multipart/form-data; boundary=${boundary}` };
    const part = (headers: string, content: string) => `--${boundary}\r\n${headers}\r\n\r\n${content}\r\n`;
    const formOf = async (body: string) => {
      const r = await fetch(server.url + route, { method: "POST", body, headers: type });
      expect(r.status).toBe(200);
      return await r.json();
    };
    // Bun gave the PDF the type text/plain;charset=utf-8, and the empty file input no name.
    expect(
      await formOf(
        part('Content-Disposition: form-data; name="cv"; filename="résumé.pdf"\r\nContent-Type: application/pdf', "%PDF") +
          part('Content-Disposition: form-data; name="none"; filename=""\r\nContent-Type: application/octet-stream', "") +
          `--${boundary}--\r\n`,
      ),
    ).toEqual({
      entries: [
        { name: "cv", filename: "résumé.pdf", type: "application/pdf", size: 4, sha256: sha256("%PDF") },
        { name: "none", filename: "", type: "application/octet-stream", size: 0, sha256: sha256("") },
      ],
    });
    // Node refused a preamble, an unquoted name and a near-delimiter in the content;
    // Deno and Bun kept the browser's %22 escape for a quote.
    expect(
      await formOf(
        "preamble\r\n" + part("Content-Disposition: form-data; name=a", `x\r\n--${boundary}x`) +
          part('Content-Disposition: form-data; name="say %22hi%22"', "q") + `--${boundary}--\r\nepilogue`,
      ),
    ).toEqual({ entries: [{ name: "a", value: `x\r\n--${boundary}x` }, { name: 'say "hi"', value: "q" }] });
    // Deno gave a cut-off body as a form without its last field, and bare-LF lines as an empty form.
    const cut = await formOf(part('Content-Disposition: form-data; name="a"', "1") + `--${boundary}\r\nContent-Disposition: form-data; name="b"\r\n\r\nha`);
    expect(cut).toEqual({ error: "TypeError", message: "multipart body ends early, before its closing delimiter" });
    const lf = await formOf(`--${boundary}\nContent-Disposition: form-data; name="a"\n\n1\n--${boundary}--\n`);
    expect(lf).toEqual({ error: "TypeError", message: "malformed multipart delimiter line" });
  });

  it("form() answers 400 for a cut-off multipart body, and reads a whole one", async () => {
    const boundary = "b0undary";
    const type = { "content-type": `multipart/form-data; boundary=${boundary}` };
    const whole = `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="doc"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nPNG\r\n`;
    const ok = await fetch(server.url + "/typed-form", { method: "POST", body: whole + `--${boundary}--`, headers: type });
    expect(await ok.json()).toEqual({ note: "hi", file: "a.png", type: "image/png" });
    const cut = await fetch(server.url + "/typed-form", { method: "POST", body: whole, headers: type });
    expect(cut.status).toBe(400);
    expect(await cut.json()).toEqual({
      status: 400,
      message: "malformed form body: multipart body ends early, before its closing delimiter",
    });
  });

  it("req.formData() reads a multipart body with file parts", async () => {
    const binary = bytesOf(70_000); // CR, LF and dashes in it, across read chunks
    const boundary = "----portico-boundary-7d1f";
    const enc = new TextEncoder();
    const part = (headers: string, content: Uint8Array | string) => [
      enc.encode(`--${boundary}\r\n${headers}\r\n\r\n`),
      typeof content === "string" ? enc.encode(content) : content,
      enc.encode("\r\n"),
    ];
    const body = Buffer.concat([
      ...part('Content-Disposition: form-data; name="title"', "a title, ünïcode"),
      ...part('Content-Disposition: form-data; name="doc"; filename="notes.txt"\r\nContent-Type: text/plain', "line 1\r\nline 2\n"),
      ...part('Content-Disposition: form-data; name="blob"; filename="data.bin"\r\nContent-Type: application/octet-stream', binary),
      enc.encode(`--${boundary}--\r\n`),
    ]);
    const seen = await post("/form", body, { "content-type": `multipart/form-data; boundary=${boundary}` });
    // The part's type as the runtime's own File gives it (Bun's File adds ";charset=utf-8" to text/plain).
    expect(seen.platformTextType).toBe(runtime === "bun" ? "text/plain;charset=utf-8" : "text/plain");
    expect(seen.entries).toEqual([
      { name: "title", value: "a title, ünïcode" },
      { name: "doc", filename: "notes.txt", type: seen.platformTextType, size: 15, sha256: sha256("line 1\r\nline 2\n") },
      { name: "blob", filename: "data.bin", type: "application/octet-stream", size: binary.length, sha256: sha256(binary) },
    ]);
  });
});
