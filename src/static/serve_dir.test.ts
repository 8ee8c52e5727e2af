/**
 * serveDir and serveFile called in-process with plain Requests: the
 * decisions (status, headers, bodies). The wire, the three runtimes and the
 * traversal table over raw sockets are in test/e2e/static.test.ts.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ResourceGroup } from "../groups/group.ts";
import { serveDir } from "./serve_dir.ts";
import { serveFile } from "./serve_file.ts";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "portico-servedir-")));
const root = join(dir, "root");
mkdirSync(join(root, "sub"), { recursive: true });
mkdirSync(join(root, "bare"));
mkdirSync(join(root, ".git"));
writeFileSync(join(root, "hello.txt"), "Hello, World!\n");
writeFileSync(join(root, "range.txt"), "0123456789abcdefghijklmnopqrstuvwxyz");
writeFileSync(join(root, "empty.txt"), "");
writeFileSync(join(root, "big.bin"), new Uint8Array(1 << 20));
writeFileSync(join(root, "sub", "index.html"), "<h1>sub</h1>");
writeFileSync(join(root, "bare", "x.txt"), "x");
writeFileSync(join(root, ".env"), "SECRET=1");
writeFileSync(join(root, ".git", "config"), "[core]");
writeFileSync(join(dir, "outside.txt"), "outside");
symlinkSync("../outside.txt", join(root, "out"));
symlinkSync(".env", join(root, "env-link"));
symlinkSync("hello.txt", join(root, "in"));
const mtime = new Date("2024-03-01T10:00:00Z");
utimesSync(join(root, "hello.txt"), mtime, mtime);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const handler = serveDir({ root });
const get = (path: string, headers: Record<string, string> = {}, method = "GET", h = handler) =>
  h(new Request("http://localhost" + path, { method, headers }));

describe("serveDir", () => {
  it("serves a file with type, length, validators", async () => {
    const r = await get("/hello.txt");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("Hello, World!\n");
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(r.headers.get("content-length")).toBe("14");
    expect(r.headers.get("accept-ranges")).toBe("bytes");
    expect(r.headers.get("last-modified")).toBe("Fri, 01 Mar 2024 10:00:00 GMT");
    expect(r.headers.get("etag")).toMatch(/^W\/"e-[0-9a-f]+"$/);
  });

  it("answers conditional requests with 304 and 412", async () => {
    const etag = (await get("/hello.txt")).headers.get("etag")!;
    const r304 = await get("/hello.txt", { "if-none-match": etag });
    expect(r304.status).toBe(304);
    expect(r304.body).toBeNull();
    expect(r304.headers.get("etag")).toBe(etag);
    expect((await get("/hello.txt", { "if-modified-since": "Fri, 01 Mar 2024 10:00:00 GMT" })).status).toBe(304);
    expect((await get("/hello.txt", { "if-modified-since": "Fri, 01 Mar 2024 09:59:59 GMT" })).status).toBe(200);
    expect((await get("/hello.txt", { "if-match": '"nope"' })).status).toBe(412);
  });

  it("serves single ranges, 416 for unsatisfiable ones, 200 for several", async () => {
    const r = await get("/range.txt", { range: "bytes=10-14" });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe("bytes 10-14/36");
    expect(r.headers.get("content-length")).toBe("5");
    expect(await r.text()).toBe("abcde");
    expect(await (await get("/range.txt", { range: "bytes=-3" })).text()).toBe("xyz");
    const r416 = await get("/range.txt", { range: "bytes=36-" });
    expect(r416.status).toBe(416);
    expect(r416.headers.get("content-range")).toBe("bytes */36");
    const multi = await get("/range.txt", { range: "bytes=0-1,3-4" });
    expect(multi.status).toBe(200);
    expect((await multi.text()).length).toBe(36);
    // HEAD ignores Range (RFC 9110 §14.2: defined for GET only)
    expect((await get("/range.txt", { range: "bytes=0-1" }, "HEAD")).status).toBe(200);
  });

  it("HEAD has the headers and no body; other methods get 405", async () => {
    const r = await get("/hello.txt", {}, "HEAD");
    expect(r.status).toBe(200);
    expect(r.body).toBeNull();
    expect(r.headers.get("content-length")).toBe("14");
    for (const m of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const x = await get("/hello.txt", {}, m);
      expect(x.status).toBe(405);
      expect(x.headers.get("allow")).toBe("GET, HEAD");
    }
  });

  it("serves an empty file", async () => {
    const r = await get("/empty.txt");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe("0");
    expect(await r.text()).toBe("");
  });

  it("index files, the trailing-slash redirect, no listing by default", async () => {
    const r = await get("/sub/");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await r.text()).toBe("<h1>sub</h1>");
    const redirect = await get("/sub?x=1");
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get("location")).toBe("./sub/?x=1");
    expect((await get("/bare/")).status).toBe(404);
    expect((await get("/hello.txt/")).status).toBe(404);
    expect((await get("/missing")).status).toBe(404);
  });

  it("dot-files: deny (403), ignore (404), allow", async () => {
    expect((await get("/.env")).status).toBe(403);
    expect((await get("/.git/config")).status).toBe(403);
    expect((await get("/env-link")).status).toBe(403);
    const ignore = serveDir({ root, dotfiles: "ignore" });
    expect((await get("/.env", {}, "GET", ignore)).status).toBe(404);
    const allow = serveDir({ root, dotfiles: "allow" });
    expect(await (await get("/.env", {}, "GET", allow)).text()).toBe("SECRET=1");
    expect(await (await get("/env-link", {}, "GET", allow)).text()).toBe("SECRET=1");
  });

  it("follows links inside the root, not out of it", async () => {
    expect(await (await get("/in")).text()).toBe("Hello, World!\n");
    const out = await get("/out");
    expect(out.status).toBe(404);
    expect(await out.text()).toBe("Not Found\n");
  });

  it("urlRoot strips a prefix and refuses other paths", async () => {
    const h = serveDir({ root, urlRoot: "/static/" });
    expect(await (await get("/static/hello.txt", {}, "GET", h)).text()).toBe("Hello, World!\n");
    expect((await get("/hello.txt", {}, "GET", h)).status).toBe(404);
    expect((await get("/staticx/hello.txt", {}, "GET", h)).status).toBe(404);
    const top = await get("/static", {}, "GET", h);
    expect(top.status).toBe(301);
    expect(top.headers.get("location")).toBe("./static/");
  });

  it("lists directories as escaped HTML when asked", async () => {
    const h = serveDir({ root, listing: true });
    const r = await get("/", {}, "GET", h);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const page = await r.text();
    expect(page).toContain(`href="./hello.txt"`);
    expect(page).toContain(`href="./sub/"`);
    expect(page).not.toContain(".env");
    expect(page).not.toContain(".git");
    const mounted = await h(new Request("http://localhost/bare/"), { mountPath: "/static" });
    expect(await mounted.text()).toContain("<h1>Index of /static/bare/</h1>");
    const head = await get("/bare/", {}, "HEAD", h);
    expect(head.body).toBeNull();
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
  });

  it("a missing root is 404, and is picked up once it exists", async () => {
    const later = join(dir, "later");
    const h = serveDir({ root: later });
    expect((await get("/a.txt", {}, "GET", h)).status).toBe(404);
    mkdirSync(later);
    writeFileSync(join(later, "a.txt"), "a");
    expect(await (await get("/a.txt", {}, "GET", h)).text()).toBe("a");
  });

  it("adopts the open file into info.group", async () => {
    const group = new ResourceGroup();
    const r = await handler(new Request("http://localhost/big.bin"), { group });
    expect(group.usage.resources).toBe(1);
    await group.shutdown(); // the client went away before reading it all
    await expect(r.arrayBuffer()).rejects.toThrow();
  });
});

describe("serveFile", () => {
  it("serves one file, typed by its name or as told", async () => {
    const req = new Request("http://localhost/anything");
    const r = await serveFile(req, join(root, "hello.txt"));
    expect(await r.text()).toBe("Hello, World!\n");
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const typed = await serveFile(req, join(root, "hello.txt"), undefined, { contentType: "x/y", etag: "strong" });
    expect(typed.headers.get("content-type")).toBe("x/y");
    expect(typed.headers.get("etag")).toMatch(/^"/);
    expect((await serveFile(req, join(root, "nope.txt"))).status).toBe(404);
    expect((await serveFile(req, join(root, "sub"))).status).toBe(404);
    expect((await serveFile(new Request("http://x/", { method: "POST" }), join(root, "hello.txt"))).status).toBe(405);
  });
});
