import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { form, query } from "../forms/fields.ts";
import { makeLightResponse } from "../server/light_response.ts";
import { Router } from "./router.ts";

const call = (router: Router, method: string, path: string, init: RequestInit = {}) =>
  Promise.resolve(router.fetch(new Request(`http://x${path}`, { method, ...init }), undefined as never));

describe("Router", () => {
  it("prefers static over param over wildcard, whatever the registration order", async () => {
    const r = new Router();
    r.get("/files/*", (_q, c) => new Response(`wild ${c.params["*"]}`));
    r.get("/files/:name", (_q, c) => new Response(`param ${c.params.name}`));
    r.get("/files/special", () => new Response("static"));
    expect(await (await call(r, "GET", "/files/special")).text()).toBe("static");
    expect(await (await call(r, "GET", "/files/other")).text()).toBe("param other");
    expect(await (await call(r, "GET", "/files/a/b/c")).text()).toBe("wild a/b/c");
  });

  it("backtracks when a static branch fails deeper down", async () => {
    const r = new Router();
    r.get("/users/me/settings", () => new Response("settings"));
    r.get("/users/:id/posts", (_q, c) => new Response(`posts of ${c.params.id}`));
    expect(await (await call(r, "GET", "/users/me/posts")).text()).toBe("posts of me");
  });

  it("decodes params and answers 400 for malformed percent-encoding", async () => {
    const r = new Router();
    r.get("/say/:word", (_q, c) => new Response(c.params.word));
    expect(await (await call(r, "GET", "/say/h%C3%A9llo%20there")).text()).toBe("héllo there");
    const bad = await call(r, "GET", "/say/%E0%A4%A");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("malformed percent-encoding");
  });

  it("answers 404, 405 with Allow, OPTIONS 204, and HEAD through GET without a body", async () => {
    const r = new Router();
    // The Response serve() installs, whose body size is known without reading it.
    const LightResponse = makeLightResponse(Response);
    r.get("/thing", () => new LightResponse("body", { headers: { "x-from": "get" } }));
    r.post("/thing", () => new Response("posted"));
    expect((await call(r, "GET", "/nothing")).status).toBe(404);
    const put = await call(r, "PUT", "/thing");
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST, HEAD, OPTIONS");
    const options = await call(r, "OPTIONS", "/thing");
    expect(options.status).toBe(204);
    expect(options.headers.get("allow")).toBe("GET, POST, HEAD, OPTIONS");
    const head = await call(r, "HEAD", "/thing");
    expect(head.status).toBe(200);
    expect(head.headers.get("x-from")).toBe("get");
    expect(head.headers.get("content-length")).toBe("4"); // the fields GET's answer would have
    expect(head.body).toBeNull();
  });

  it("mounts a handler with the prefix stripped, and all() takes any method", async () => {
    const inner = new Router();
    inner.all(
      "/echo",
      async (req, c) => new Response(`${req.method} ${c.url.pathname}${c.url.search} ${await req.text()}`),
    );
    const r = new Router();
    r.mount("/api/", inner);
    expect(await (await call(r, "POST", "/api/echo?q=1", { body: "data" })).text()).toBe("POST /echo?q=1 data");
    expect((await call(r, "GET", "/apix/echo")).status).toBe(404);
    const bare = await call(r, "GET", "/api?x=1");
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/api/?x=1");
  });

  it("composes with Hono both ways", async () => {
    const app = new Hono();
    app.get("/hi/:name", (c) => c.text(`hono says hi to ${c.req.param("name")}`));
    const r = new Router();
    r.mount("/hono", app);
    r.get("/plain", () => new Response("router"));
    expect(await (await call(r, "GET", "/hono/hi/ann")).text()).toBe("hono says hi to ann");

    const outer = new Hono();
    outer.mount("/r", r.fetch);
    expect(await (await outer.request("/r/plain")).text()).toBe("router");
  });
});

describe("query and form", () => {
  it("reads typed query fields and rejects bad ones with 400", () => {
    const q = query(new URL("http://x/?a=1&b=x&t=hi&t=there"));
    expect(q.number("a")).toBe(1);
    expect(q.strings("t")).toEqual(["hi", "there"]);
    expect(() => q.number("b")).toThrow(/must be a number, got "x"/);
    expect(() => q.string("missing")).toThrow(/missing query field "missing"/);
  });

  it("reads urlencoded and multipart forms, and limits their size", async () => {
    const urlencoded = new Request("http://x/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=2&b=3",
    });
    const f = await form(urlencoded);
    expect(f.number("a") + f.number("b")).toBe(5);

    const fd = new FormData();
    fd.set("note", "hello");
    fd.set("upload", new File(["file body"], "a.txt", { type: "text/plain" }));
    const multipart = await form(new Request("http://x/", { method: "POST", body: fd }));
    expect(multipart.string("note")).toBe("hello");
    expect(await multipart.file("upload").text()).toBe("file body");

    const big = new Request("http://x/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=" + "x".repeat(2000),
    });
    await expect(form(big, { maxBytes: 1000 })).rejects.toMatchObject({ status: 413 });
    const notAForm = new Request("http://x/", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    await expect(form(notAForm)).rejects.toMatchObject({ status: 400 });
  });
});
