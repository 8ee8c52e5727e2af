import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { escapeHtml, readListing, renderListing } from "./listing.ts";

describe("escapeHtml", () => {
  it("escapes the five characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});

describe("renderListing", () => {
  it("escapes names and titles, encodes links", () => {
    const page = renderListing("/<script>alert(1)</script>/", [
      { name: `<img src=x onerror=alert(1)>.txt`, directory: false, size: 3, modified: new Date(0) },
      { name: `a"b'c&d`, directory: true, size: null, modified: null },
      { name: "a:b", directory: false, size: 1, modified: null },
    ], true);
    expect(page).not.toContain("<img");
    expect(page).not.toContain("<script>");
    expect(page).toContain("Index of /&lt;script&gt;alert(1)&lt;/script&gt;/");
    expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;.txt</a>");
    expect(page).toContain(`href="./%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt"`);
    expect(page).toContain(`href="./a%22b&#39;c%26d/">a&quot;b&#39;c&amp;d/</a>`);
    expect(page).toContain(`href="./a%3Ab"`);
    expect(page).toContain(`href="../"`);
    expect(page).toContain("1970-01-01 00:00:00");
  });

  it("has no parent link at the top", () => {
    expect(renderListing("/", [], false)).not.toContain(`href="../"`);
  });
});

describe("readListing", () => {
  const dir = mkdtempSync(join(tmpdir(), "portico-listing-"));
  mkdirSync(join(dir, "zdir"));
  mkdirSync(join(dir, ".hidden"));
  writeFileSync(join(dir, "b.txt"), "bb");
  writeFileSync(join(dir, "a.txt"), "a");
  writeFileSync(join(dir, ".env"), "x");
  symlinkSync("nowhere", join(dir, "dangling"));
  symlinkSync("zdir", join(dir, "linkdir"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists directories first, then files by name, without dot-files", async () => {
    const entries = await readListing(dir, false);
    expect(entries.map((e) => [e.name, e.directory, e.size])).toEqual([
      ["linkdir", true, null],
      ["zdir", true, null],
      ["a.txt", false, 1],
      ["b.txt", false, 2],
      ["dangling", false, null],
    ]);
  });

  it("includes dot-files when asked", async () => {
    const names = (await readListing(dir, true)).map((e) => e.name);
    expect(names).toContain(".env");
    expect(names).toContain(".hidden");
  });
});
