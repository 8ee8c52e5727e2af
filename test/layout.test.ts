/**
 * The layering rules of the source tree, checked on the files themselves:
 * the core (src/) imports nothing from adapters/, and only runtime.ts asks
 * which runtime runs the program (src/mod.ts imports it to bind the choice).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "./helpers/runtime.ts";

function files(dir: string): string[] {
  return fs.readdirSync(path.join(projectRoot, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => path.join(dir, f));
}

/** The code of a file without its comments (JSDoc examples import freely). */
function code(file: string): string {
  return fs.readFileSync(path.join(projectRoot, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

/** Every module specifier a file imports, statically or dynamically, resolved against the root. */
function imports(file: string): string[] {
  const specs = [...code(file).matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map((m) => m[1]);
  return specs.map((s) => s.startsWith(".") ? path.relative(projectRoot, path.resolve(projectRoot, path.dirname(file), s)) : s);
}

describe("layout", () => {
  const src = files("src");

  // The package's entries (deno.json exports; package.json's are their builds).
  const entries: string[] = Object.values(
    JSON.parse(fs.readFileSync(path.join(projectRoot, "deno.json"), "utf8")).exports as Record<string, string>,
  ).map((e) => path.normalize(e));

  it("src/ imports nothing from adapters/, and only entries import runtime.ts", () => {
    expect(src.length).toBeGreaterThan(20);
    const bad = src.flatMap((f) =>
      imports(f)
        .filter((i) => i.startsWith("adapters/") || (i === "runtime.ts" && !entries.includes(f)))
        .map((i) => `${f} imports ${i}`)
    );
    expect(bad).toEqual([]);
    expect(imports(path.join("src", "mod.ts"))).toContain("runtime.ts");
  });

  it("every entry that reaches the platform seam binds the runtime", () => {
    // An entry whose code can call serve(), supervise() or workerId() must load
    // runtime.ts, or those would find no adapter or launcher when that entry
    // is the only one a program imports.
    const reach = (from: string): Set<string> => {
      const seen = new Set<string>();
      const walk = (f: string) => {
        if (seen.has(f) || !f.endsWith(".ts") || !fs.existsSync(path.join(projectRoot, f))) return;
        seen.add(f);
        for (const i of imports(f)) walk(i);
      };
      walk(from);
      return seen;
    };
    const unbound = entries.filter((e) => {
      const r = reach(e);
      return r.has(path.join("src", "platform.ts")) && !r.has("runtime.ts");
    });
    expect(unbound).toEqual([]);
  });

  it("package.json keeps the binding: runtime.ts and every module importing it are listed as side effects", () => {
    // A bundler would otherwise drop `import "../runtime.ts"` from an entry
    // whose own exports it resolved through (sideEffects: false).
    const sideEffects = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")).sideEffects;
    const binders = ["runtime.ts", ...[...src, "mod.ts"].filter((f) => imports(f).includes("runtime.ts"))];
    const missing = binders.flatMap((f) => [`./${f}`, `./dist/${f.replace(/\.ts$/, ".js")}`])
      .filter((f) => !sideEffects.includes(f));
    expect(missing).toEqual([]);
  });

  it("only runtime.ts asks which runtime this is", () => {
    const all = [...src, ...files("adapters"), "mod.ts", "runtime.ts"];
    const asking = all.filter((f) => /\b(?:Deno|Bun)\s*(?:!==?|===?)\s*undefined|typeof\s+(?:globalThis\.)?(?:Deno|Bun)\b/.test(code(f)));
    expect(asking).toEqual(["runtime.ts"]);
  });

  it("src/ reads the environment only through platform().env (which never throws or prompts under Deno)", () => {
    const reading = src.filter((f) => f !== path.join("src", "platform.ts") && /\bprocess\.env\b/.test(code(f)));
    expect(reading).toEqual([]);
  });

  it("src/ calls no Deno or Bun API", () => {
    const calling = src.filter((f) => /\b(?:Deno|Bun)\s*\.|globalThis\s+as[^;]*\b(?:Deno|Bun)\b/.test(code(f)));
    expect(calling).toEqual([]);
  });
});
