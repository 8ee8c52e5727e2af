/**
 * Router, html and forms over real sockets under node, deno and bun, with a
 * Hono app mounted in the router and the router mounted in Hono.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";

describe.each(RUNTIMES)("router app on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "app.mjs");
  });
  afterAll(() => server?.stop());
  const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);

  it("routes static, param and wildcard paths, static first", async () => {
    expect(await (await get("/runtime")).text()).toBe(runtime);
    expect(await (await get("/hello")).text()).toBe("Hello, World!");
    expect(await (await get("/users/42")).json()).toEqual({ id: "42", path: "/users/42" });
    expect(await (await get("/users/me")).json()).toEqual({ id: "me", static: true });
    expect(await (await get("/users/a%20b")).json()).toEqual({ id: "a b", path: "/users/a%20b" });
    expect(await (await get("/files/a/b.txt")).text()).toBe("rest=a/b.txt");
  });

  it("answers 404, 405 with Allow, OPTIONS 204 and HEAD without a body", async () => {
    expect((await get("/nope")).status).toBe(404);
    const wrong = await get("/hello", { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    const options = await get("/users/1", { method: "OPTIONS" });
    expect(options.status).toBe(204);
    expect(options.headers.get("allow")).toContain("GET");
    const head = await get("/hello", { method: "HEAD" });
    expect(head.status).toBe(200);
    // The fields GET's answer has, Content-Length included.
    expect(head.headers.get("content-length")).toBe("13");
    expect(await head.text()).toBe("");
  });

  it("reads forms and answers bad input with 400 or 413, never 500", async () => {
    const post = (body: string) =>
      get("/sum", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(await (await post("a=2&b=40")).text()).toBe("sum=42");
    const missing = await post("a=2");
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('missing form field "b"');
    const nan = await post("a=2&b=two");
    expect(nan.status).toBe(400);
    expect(await nan.text()).toContain('must be a number, got "two"');
    expect((await post("a=" + "9".repeat(2000) + "&b=1")).status).toBe(413);
    const json = await get("/sum", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(json.status).toBe(400);
  });

  it("escapes interpolated values in html pages", async () => {
    const res = await get("/page?who=" + encodeURIComponent(`<img src=x onerror="alert(1)">`));
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe(
      `<!doctype html><h1 title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;">` +
        `Hello, &lt;img src=x onerror=&quot;alert(1)&quot;&gt;</h1>`,
    );
    expect((await get("/page")).status).toBe(400);
  });

  it("mounts Hono inside the router and the router inside Hono", async () => {
    expect(await (await get("/hono/hi/bo")).json()).toEqual({ hi: "bo", from: "hono" });
    expect(await (await get("/outer/")).text()).toBe("outer hono");
    expect(await (await get("/outer/app/users/7")).json()).toEqual({ id: "7", path: "/users/7" });
  });
});
