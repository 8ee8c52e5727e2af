/**
 * The npm package as a consumer gets it: `npm pack`, install the tarball into
 * a fresh project, type-check a consumer file against the installed types,
 * and serve a page from the installed package under node, deno and bun.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, RUNTIMES } from "../helpers/runtime.ts";

const bin = (name: string) => path.join(projectRoot, "node_modules", ".bin", name);
let dir = "";
let files: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "portico-consumer-"));
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: projectRoot, encoding: "utf8" });
  const info = JSON.parse(out.slice(out.indexOf("[")))[0] as { filename: string; files: { path: string }[] };
  files = info.files.map((f) => f.path);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(dir, info.filename)], { cwd: dir });
  fs.writeFileSync(
    path.join(dir, "server.mjs"),
    `import { serve } from "portico";
const server = serve({ port: 0, hostname: "127.0.0.1", onListen: (a) => console.log("LISTENING " + a.port),
  fetch: (req) => new Response("hello from the installed package: " + new URL(req.url).pathname) });
`,
  );
}, 120_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("contains the build and sources, and no tests", () => {
    expect(files).toContain("dist/mod.js");
    expect(files).toContain("dist/mod.d.ts");
    expect(files).toContain("dist/adapters/node.js");
    expect(files).toContain("src/mod.ts");
    expect(files.filter((f) => /\.test\.|^test\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith("dist/examples"))).toEqual([]);
    // Source maps ship only alongside the sources they point to (inlined).
    const map = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/portico/dist/src/serve.js.map"), "utf8"));
    expect(map.sourcesContent?.[0]).toContain("export function serve");
  });

  it("type-checks a consumer file against the installed types", () => {
    fs.writeFileSync(
      path.join(dir, "consumer.ts"),
      `import { serve, ResourceGroup, type Handler, type Server } from "portico";
import { memoryAdapter } from "portico/adapters/memory";
const h: Handler = (req, info) => new Response(req.method + info.remoteAddr.hostname);
const s: Server = serve({ fetch: h, adapter: memoryAdapter(), port: 0, onListen() {} });
const g: ResourceGroup = s.group.child({ name: "x" });
void g;
// @ts-expect-error: the handler must return a Response
serve({ fetch: () => 42 });
`,
    );
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2023",
          lib: ["ES2023", "DOM", "DOM.Iterable", "ESNext.Disposable"],
          strict: true,
          noEmit: true,
          typeRoots: [path.join(projectRoot, "node_modules", "@types")],
          types: ["node"],
        },
        files: ["consumer.ts"],
      }),
    );
    execFileSync(bin("tsc"), ["-p", "tsconfig.json"], { cwd: dir, encoding: "utf8" });
  });

  for (const runtime of RUNTIMES) {
    it(`serves a page from the installed package under ${runtime}`, async () => {
      const cmd = runtime === "node"
        ? [process.execPath, ["server.mjs"]]
        : runtime === "deno"
        ? [bin("deno"), ["run", "-A", "--no-lock", "server.mjs"]]
        : [bin("bun"), ["run", "server.mjs"]];
      const child = spawn(cmd[0] as string, cmd[1] as string[], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no LISTENING line\n${out}\n${err}`)), 20_000);
          child.stdout.on("data", (d) => {
            out += d;
            const m = /LISTENING (\d+)/.exec(out);
            if (m) {
              clearTimeout(t);
              resolve(Number(m[1]));
            }
          });
          child.on("exit", (code) => reject(new Error(`exited ${code}\n${out}\n${err}`)));
        });
        const res = await fetch(`http://127.0.0.1:${port}/from-${runtime}`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe(`hello from the installed package: /from-${runtime}`);
      } finally {
        child.kill("SIGKILL");
      }
    }, 30_000);
  }
});
