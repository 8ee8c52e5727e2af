import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { confine, hasDotSegment, isInside, isPlainName, parseUrlPath } from "./path.ts";

describe("parseUrlPath", () => {
  it("splits and decodes each segment once", () => {
    expect(parseUrlPath("/")).toEqual({ segments: [], trailingSlash: true });
    expect(parseUrlPath("")).toEqual({ segments: [], trailingSlash: false });
    expect(parseUrlPath("/a/b%20c.txt")).toEqual({ segments: ["a", "b c.txt"], trailingSlash: false });
    expect(parseUrlPath("/docs/")).toEqual({ segments: ["docs"], trailingSlash: true });
    // double encoding decodes to a literal, harmless name
    expect(parseUrlPath("/%252e%252e/x")).toEqual({ segments: ["%2e%2e", "x"], trailingSlash: false });
    expect(parseUrlPath("/%C3%A9t%C3%A9")).toEqual({ segments: ["été"], trailingSlash: false });
  });

  it.each([
    "/..",
    "/../x",
    "/a/../../x",
    "/%2e%2e/x",
    "/%2E%2E/x",
    "/.%2e/x",
    "/./x",
    "/..%2fx",
    "/a%2F..%2F..%2Fx",
    "/..%5cx",
    "/a\\..\\x",
    "/x%00.txt",
    "//etc/passwd",
    "/a//b",
    "/%2fetc%2fpasswd",
    "relative",
  ])("refuses %s with 404", (p) => {
    expect(parseUrlPath(p)).toEqual({ error: 404 });
  });

  it.each(["/%", "/%zz", "/%c0%ae%c0%ae/x", "/%E0%A4%A"])("refuses malformed encoding %s with 400", (p) => {
    expect(parseUrlPath(p)).toEqual({ error: 400 });
  });
});

describe("name and containment checks", () => {
  it("isPlainName", () => {
    expect(isPlainName("a.txt")).toBe(true);
    expect(isPlainName("...")).toBe(true);
    expect(isPlainName("..a")).toBe(true);
    for (const bad of ["", ".", "..", "a/b", "a\\b", "a\0b"]) expect(isPlainName(bad)).toBe(false);
  });

  it("isInside", () => {
    expect(isInside("/srv/www", "/srv/www")).toBe(true);
    expect(isInside("/srv/www", "/srv/www/a/b")).toBe(true);
    expect(isInside("/srv/www", "/srv/www/..a")).toBe(true);
    expect(isInside("/srv/www", "/srv/www-evil/a")).toBe(false);
    expect(isInside("/srv/www", "/srv")).toBe(false);
    expect(isInside("/srv/www", "/etc/passwd")).toBe(false);
    expect(isInside("/", "/etc/passwd")).toBe(true);
  });

  it("hasDotSegment", () => {
    expect(hasDotSegment(".env")).toBe(true);
    expect(hasDotSegment("a/.git/config")).toBe(true);
    expect(hasDotSegment("a/b.txt")).toBe(false);
    expect(hasDotSegment("")).toBe(false);
  });
});

describe("confine", () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "portico-path-")));
  const root = join(dir, "root");
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(join(dir, "root-evil"));
  writeFileSync(join(root, "a.txt"), "a");
  writeFileSync(join(dir, "secret.txt"), "secret");
  writeFileSync(join(dir, "root-evil", "x.txt"), "x");
  symlinkSync("../secret.txt", join(root, "out"));
  symlinkSync("..", join(root, "up"));
  symlinkSync("../root-evil", join(root, "evil"));
  symlinkSync("a.txt", join(root, "in"));
  symlinkSync("/etc/passwd", join(root, "abs"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("resolves names inside the root, links included", async () => {
    expect(await confine(root, ["a.txt"])).toBe(join(root, "a.txt"));
    expect(await confine(root, ["in"])).toBe(join(root, "a.txt"));
    expect(await confine(root, [])).toBe(root);
    expect(await confine(root, ["sub"])).toBe(join(root, "sub"));
    // out and back in again stays inside
    expect(await confine(root, ["up", "root", "a.txt"])).toBe(join(root, "a.txt"));
  });

  it("refuses links that lead out, and missing files", async () => {
    expect(await confine(root, ["out"])).toBeNull();
    expect(await confine(root, ["up"])).toBeNull();
    expect(await confine(root, ["up", "secret.txt"])).toBeNull();
    expect(await confine(root, ["evil", "x.txt"])).toBeNull();
    expect(await confine(root, ["abs"])).toBeNull();
    expect(await confine(root, ["missing"])).toBeNull();
    expect(await confine(root, ["..", "secret.txt"])).toBeNull();
  });
});
