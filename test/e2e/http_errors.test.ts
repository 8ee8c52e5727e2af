/**
 * HttpError for applications (issue 14.5), the same under node, deno and
 * bun: a handler that throws `new HttpError(status, message?, { headers?,
 * cause? })` is answered with that status and headers and the message as
 * one line of text; the cause stays on the server; the connection stays
 * usable; onError is not involved.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { req, withRaw } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime, type RunningServer, startServer } from "../helpers/runtime.ts";

describe.each(RUNTIMES)("HttpError thrown from a handler on %s", (runtime: Runtime) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer(runtime, "http_errors.mjs");
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  const get = (path: string, init: RequestInit = {}) =>
    fetch(server.url + path, { signal: AbortSignal.timeout(20_000), ...init });

  it("answers 401 with its www-authenticate and message", async () => {
    const r = await get("/401");
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Basic realm="portico"');
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await r.text()).toBe("sign in first\n");
  });

  it("answers 404 with the reason phrase when there is no message", async () => {
    const r = await get("/404");
    expect(r.status).toBe(404);
    expect(await r.text()).toBe("Not Found\n");
  });

  it("answers 409 thrown after an await, keeps its cause on the server and logs nothing", async () => {
    const before = server.stderr().length;
    const r = await get("/409");
    expect(r.status).toBe(409);
    const body = await r.text();
    expect(body).toBe("the document changed meanwhile\n");
    expect(body).not.toContain("etag");
    expect(server.stderr().slice(before)).toBe("");
  });

  it("sends a message of several lines as one line, and keeps a content type the headers name", async () => {
    const lines = await get("/lines");
    expect([lines.status, await lines.text()]).toEqual([400, "one two three\n"]);
    const json = await get("/json");
    expect(json.status).toBe(422);
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.json()).toEqual({ error: "bad field" });
  });

  it("still answers a named protocol error with its code's status", async () => {
    const r = await get("/named");
    expect([r.status, await r.text()]).toEqual([400, "a named protocol error\n"]);
  });

  it("keeps the connection usable after a thrown HttpError", async () => {
    await withRaw(server, async (c) => {
      await c.write(req("GET", "/404") + req("GET", "/401") + req("GET", "/ok"));
      const [a, b, ok] = await c.readResponses(["GET", "GET", "GET"]);
      expect([a.status, b.status, ok.status, ok.text()]).toEqual([404, 401, 200, "ok"]);
      expect(b.header("www-authenticate")).toBe('Basic realm="portico"');
    });
  });

  it("answers 413 thrown while reading the body, and closes as its headers ask", async () => {
    await withRaw(server, async (c) => {
      await c.write(req("POST", "/body", { "content-length": "100" }, "x".repeat(100)));
      const r = await c.readResponse();
      expect([r.status, r.text()]).toEqual([413, "more than 4 bytes\n"]);
      expect(r.header("connection")).toMatch(/close/i);
      expect(await c.waitForServerClose(3000)).toBe(true);
    });
  });

  it("refuses a status outside 400-599 with a RangeError (a 500 through onError)", async () => {
    const r = await get("/range");
    expect([r.status, await r.text()]).toEqual([500, "onError ran"]);
  });
});
