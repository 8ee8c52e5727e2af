/**
 * The same answer on every runtime, byte for byte: each request below goes
 * over a raw socket to the parity fixture (test/fixtures/parity.mjs) under
 * node, deno and bun, and the raw response bytes (head and body as sent,
 * with the Date field masked) must be identical. The cases cover what a
 * handler builds (text, JSON, bytes, blobs, streams, redirects, empty
 * bodies, 204, 304, HEAD), what goes wrong in a handler (a throw, a
 * rejection, a non-Response, Response.error(), a Response the platform
 * refuses) and what the parser refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, startServer, type RunningServer, type Runtime } from "../helpers/runtime.ts";
import { RawClient, req } from "../helpers/raw.ts";

interface Case {
  name: string;
  method?: string;
  /** The whole request, when it is not a plain request for `name`. */
  raw?: string;
  /** What the bytes must also satisfy (beyond being the same everywhere). */
  expect?: RegExp[];
  /** The client half-closes (FIN) after its request, and reads on. */
  halfClose?: boolean;
}

const get = (path: string, expect?: RegExp[]): Case => ({ name: path, expect });
const head = (path: string, expect?: RegExp[]): Case => ({ name: `HEAD ${path}`, method: "HEAD", expect });

const JSON_TYPE = /\r\ncontent-type: application\/json\r\n/;
const TEXT_TYPE = /\r\ncontent-type: text\/plain;charset=UTF-8\r\n/;
const ERROR_500 = /^HTTP\/1\.1 500 Internal Server Error\r\n/;

const CASES: Case[] = [
  get("/text", [/^HTTP\/1\.1 200 OK\r\n/, TEXT_TYPE, /\r\ncontent-length: 5\r\n\r\nhello$/]),
  get("/text-empty", [TEXT_TYPE, /\r\ncontent-length: 0\r\n\r\n$/]),
  get("/text-utf8", [/\r\ncontent-length: 17\r\n/]),
  get("/text-headers"),
  get("/text-typed"),
  get("/text-status", [/^HTTP\/1\.1 201 Made It\r\n/]),
  get("/text-599"),
  get("/text-mutated", [TEXT_TYPE, /\r\nx-m: 1\r\n/]),
  get("/set-cookie", [/\r\nset-cookie: a=1; Path=\/\r\nset-cookie: b=2\r\n/]),
  get("/set-cookie-mutated"),
  get("/json", [JSON_TYPE]),
  get("/json-init", [/^HTTP\/1\.1 202 Accepted\r\n/, JSON_TYPE, /\r\n\r\n\[1,2\]$/]),
  get("/json-typed", [/\r\ncontent-type: application\/vnd\.api\+json\r\n/]),
  get("/json-headers-object", [JSON_TYPE, /\r\nx-h: h\r\n/]),
  get("/json-unserialisable", [ERROR_500]),
  get("/bytes"),
  get("/arraybuffer"),
  get("/dataview"),
  get("/bytes-typed"),
  get("/blob"),
  get("/blob-untyped"),
  get("/blob-parts", [/\r\ncontent-length: 7\r\n\r\nblobby!$/]),
  get("/blob-large", [/\r\ncontent-length: 1048576\r\n/]),
  get("/body-looked-at", [TEXT_TYPE, /\r\ncontent-length: 70002\r\n\r\n/]),
  get("/bytes-looked-at", [/\r\ncontent-length: 200000\r\n\r\n/]),
  head("/body-looked-at", [/\r\ncontent-length: 70002\r\n\r\n$/]),
  get("/blob-typed", [/\r\ncontent-type: application\/x-thing\r\n/, /\r\ncontent-length: 8\r\n/]),
  get("/number", [TEXT_TYPE, /\r\ncontent-length: 3\r\n\r\n123$/]),
  get("/object", [TEXT_TYPE, /\r\n\r\n\[object Object\]$/]),
  get("/forgotten-await", [TEXT_TYPE, /\r\n\r\n\[object Promise\]$/]),
  get("/headers-object-cookies", [
    /\r\ncontent-type: text\/plain\r\nset-cookie: a=1; Path=\/\r\nset-cookie: b=2\r\nx-z: z\r\n/,
  ]),
  get("/body-used", [ERROR_500]),
  get("/bytes-used", [ERROR_500]),
  get("/stream-locked", [ERROR_500]),
  get("/stream-fails-at-once", [ERROR_500]),
  get("/search-params", [/\r\ncontent-type: application\/x-www-form-urlencoded;charset=UTF-8\r\n/]),
  get("/stream", [/\r\ntransfer-encoding: chunked\r\n/]),
  get("/stream-one", [/\r\ncontent-length: 14\r\n/]),
  get("/stream-empty", [/\r\ncontent-length: 0\r\n/]),
  get("/stream-typed"),
  get("/stream-length", [/\r\ncontent-length: 10\r\n/]),
  get("/redirect", [/^HTTP\/1\.1 302 Found\r\n/, /\r\nlocation: http:\/\/example\.com\/a%20b\?q=1\r\n/]),
  get("/redirect-301", [/^HTTP\/1\.1 301 /]),
  get("/redirect-308"),
  get("/redirect-relative", [ERROR_500]),
  get("/redirect-bad-status", [ERROR_500]),
  get("/redirect-append", [ERROR_500]),
  get("/empty", [/\r\ncontent-length: 0\r\n\r\n$/]),
  get("/empty-201"),
  get("/no-content", [/^HTTP\/1\.1 204 No Content\r\n/]),
  get("/no-content-headers"),
  get("/no-content-with-body", [ERROR_500]),
  get("/not-modified", [/^HTTP\/1\.1 304 Not Modified\r\n/]),
  get("/bad-status", [ERROR_500]),
  get("/bad-header", [ERROR_500]),
  get("/close", [/\r\nconnection: close\r\n/]),
  get("/throw", [ERROR_500]),
  get("/reject", [ERROR_500]),
  get("/not-a-response", [ERROR_500]),
  get("/error", [ERROR_500]),
  get("/no-such-handler", [/^HTTP\/1\.1 404 /]),
  head("/text", [/\r\ncontent-length: 5\r\n\r\n$/]),
  head("/json", [JSON_TYPE]),
  head("/bytes"),
  head("/blob-parts", [/\r\ncontent-length: 7\r\n\r\n$/]),
  head("/stream"),
  head("/stream-one"),
  head("/stream-length"),
  head("/redirect"),
  head("/empty"),
  head("/no-content"),
  head("/throw", [ERROR_500]),
  { name: "HTTP/1.0 /text", raw: "GET /text HTTP/1.0\r\n\r\n" },
  { name: "HTTP/1.0 /stream", raw: "GET /stream HTTP/1.0\r\n\r\n" },
  { name: "HTTP/1.0 keep-alive /json", raw: "GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" },
  { name: "400 bare LF", raw: "GET /text HTTP/1.1\nHost: a\n\n", expect: [/^HTTP\/1\.1 400 /] },
  { name: "400 no Host", raw: "GET /text HTTP/1.1\r\n\r\n", expect: [/^HTTP\/1\.1 400 /] },
  { name: "413 body too large", raw: req("POST", "/text", { "content-length": "999999999999" }) },
  { name: "414 URL too long", raw: req("GET", "/" + "a".repeat(9000)) },
  { name: "431 header too large", raw: req("GET", "/text", { "x-big": "b".repeat(17000) }) },
  { name: "501 CONNECT", raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" },
  { name: "505 HTTP/2.0", raw: "GET /text HTTP/2.0\r\nHost: a\r\n\r\n" },
  { name: "417 Expect", raw: req("GET", "/text", { expect: "something" }) },
  get("/headers-after", [
    /\r\naccess-control-allow-origin: \*\r\ncontent-type: text\/plain;charset=UTF-8\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-b: 1\r\n/,
  ]),
  get("/headers-body-headers", [/\r\nx-a: 1\r\nx-b: 1\r\nx-c: 2\r\nx-d: 3\r\n/]),
  {
    name: "POST /touched-body, body unread",
    raw: req("POST", "/touched-body", { "content-length": "100000" }, "abc"),
    expect: [/\r\nx-b: 1\r\na-a: 2\r\ncontent-type: text\/plain;charset=UTF-8\r\n/],
  },
  // A client that half-closed still gets its answer, a failure's 500 included (onError is called).
  { name: "half-closed /text", raw: req("GET", "/text"), halfClose: true, expect: [/\r\n\r\nhello$/] },
  { name: "half-closed /stream-fails-late", raw: req("GET", "/stream-fails-late"), halfClose: true, expect: [ERROR_500] },
];

/** The response as it was on the wire, Date masked; or what went wrong instead. */
async function rawAnswer(server: RunningServer, c: Case): Promise<string> {
  const client = await RawClient.connect(server.port);
  try {
    await client.write(c.raw ?? req(c.method ?? "GET", c.name.replace(/^HEAD /, "")));
    if (c.halfClose) client.end();
    const r = await client.readResponse({ method: c.method ?? "GET" });
    const bytes = r.head + r.wireBody.toString("latin1");
    return bytes.replace(/\r\ndate: [^\r\n]*/i, "\r\ndate: <masked>");
  } catch (e) {
    return `no response: ${(e as Error).message.split("\n")[0]}`;
  } finally {
    client.destroy();
  }
}

describe("the same response bytes on node, deno and bun", () => {
  const servers = new Map<Runtime, RunningServer>();

  beforeAll(async () => {
    const started = await Promise.all(RUNTIMES.map((rt) => startServer(rt, "parity.mjs")));
    for (const s of started) servers.set(s.runtime, s);
  });
  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const answers = await Promise.all(RUNTIMES.map(async (rt) => [rt, await rawAnswer(servers.get(rt)!, c)] as const));
    const node = answers[0][1];
    expect(node).toMatch(/^HTTP\/1\.1 \d{3} /);
    expect(node).toContain("\r\ndate: <masked>\r\n");
    for (const pattern of c.expect ?? []) expect(node).toMatch(pattern);
    // Shown side by side when they differ.
    expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(RUNTIMES.map((rt) => [rt, node])));
  });
});
