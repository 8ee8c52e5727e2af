import { describe, expect, it } from "vitest";
import { contentType } from "./content_type.ts";

describe("contentType", () => {
  it.each([
    ["index.html", "text/html; charset=utf-8"],
    ["a.HTM", "text/html; charset=utf-8"],
    ["style.css", "text/css; charset=utf-8"],
    ["app.js", "text/javascript; charset=utf-8"],
    ["mod.mjs", "text/javascript; charset=utf-8"],
    ["data.json", "application/json; charset=utf-8"],
    ["feed.xml", "application/xml; charset=utf-8"],
    ["site.webmanifest", "application/manifest+json; charset=utf-8"],
    ["notes.txt", "text/plain; charset=utf-8"],
    ["README.md", "text/markdown; charset=utf-8"],
    ["logo.png", "image/png"],
    ["logo.svg", "image/svg+xml"],
    ["photo.jpeg", "image/jpeg"],
    ["mod.wasm", "application/wasm"],
    ["doc.pdf", "application/pdf"],
    ["Makefile", "application/octet-stream"],
    ["html", "application/octet-stream"],
    [".env", "application/octet-stream"],
    ["x.unknownext", "application/octet-stream"],
  ])("%s → %s", async (name, type) => {
    expect(await contentType(name)).toBe(type);
  });
});
