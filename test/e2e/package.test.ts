/**
 * The npm package as a consumer gets it: `npm pack`, install the tarball into
 * a fresh project, type-check a consumer file against the installed types,
 * check what the root entry and each subpath export, and serve a page from
 * the installed package under node, deno and bun.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, RUNTIMES } from "../helpers/runtime.ts";

const bin = (name: string) => path.join(projectRoot, "node_modules", ".bin", name);

// What the entries export at run time: the root is a first page, each
// feature's entry the rest of it; internals (RouteTrie, RESPONSE_PARTS,
// makeLightResponse, WORKER_ENV…) are on none.
const ENTRIES: Record<string, string[]> = {
  portico: [
    "CloseEvent",
    "GroupShutdownError",
    "HttpError",
    "RequestParser",
    "ResourceGroup",
    "Router",
    "escapeHtml",
    "form",
    "html",
    "htmlResponse",
    "lruManager",
    "noneManager",
    "query",
    "serve",
    "serveDir",
    "serveFile",
    "servlet",
    "supervise",
    "unsafeHtml",
    "upgradeWebSocket",
    "workerId",
  ],
  "portico/hono": ["WSContext", "upgradeWebSocket"],
  "portico/static": ["serveDir", "serveFile"],
  "portico/continuations": [
    "ContinuationStoreError",
    "Instance",
    "StatelessCodec",
    "TokenTooLongError",
    "lruManager",
    "noneManager",
    "servlet",
  ],
  "portico/workers": ["stopOnSignal", "supervise", "workerId"],
  // portico/redis needs the optional peer `redis`, which this consumer does
  // not install; the adapters' entries are checked by the consumer above.
};

// Names outside tests use: they stay on the root.
const KEPT = [
  "serve",
  "Router",
  "servlet",
  "html",
  "htmlResponse",
  "query",
  "form",
  "serveDir",
  "serveFile",
  "ResourceGroup",
  "HttpError",
  "lruManager",
  "noneManager",
  "supervise",
  "workerId",
  "RequestParser",
  "upgradeWebSocket",
];
let dir = "";
let files: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "portico-consumer-"));
  // --ignore-scripts: npm test built dist/ already, and prepack's rebuild would
  // rewrite it under the suites running beside this one.
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: projectRoot, encoding: "utf8" });
  const info = JSON.parse(out.slice(out.indexOf("[")))[0] as { filename: string; files: { path: string }[] };
  files = info.files.map((f) => f.path);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(dir, info.filename)], { cwd: dir });
  fs.writeFileSync(
    path.join(dir, "exports.mjs"),
    `const names = {};
for (const entry of ${JSON.stringify(Object.keys(ENTRIES))}) names[entry] = Object.keys(await import(entry)).sort();
console.log("EXPORTS " + JSON.stringify(names));
`,
  );
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
      `import { serve, ResourceGroup, type Handler, type NetAddr, type Server, type UnixAddr } from "portico";
import { memoryAdapter } from "portico/adapters/memory";
import { serveDir, type ServeDirOptions } from "portico/static";
import { lruManager, servlet, type ContinuationManager, type Web } from "portico/continuations";
import { supervise, workerId, type WorkerLauncher } from "portico/workers";
// @ts-expect-error: internals are not exported
import { RouteTrie } from "portico";
// @ts-expect-error: internals are not exported
import type { Parked } from "portico";
const h: Handler = (req, info) => new Response(req.method + info.remoteAddr.hostname);
const s: Server = serve({ fetch: h, adapter: memoryAdapter(), port: 0, onListen() {} });
const g: ResourceGroup = s.group.child({ name: "x" });
const options: ServeDirOptions = { root: ".", dotfiles: "ignore" };
const files = serveDir(options);
const manager: ContinuationManager = lruManager({ maxCount: 10 });
const app = servlet((web: Web) => new Response(web.request.url), { manager });
const launcher: WorkerLauncher | undefined = undefined;
if (workerId() === null && launcher) supervise({ launcher });
void [g, files, app, RouteTrie];
// @ts-expect-error: the handler must return a Response
serve({ fetch: () => 42 });
// A handler for a unix socket, typed as the README says, in all three forms.
const onUnix: Handler<UnixAddr> = (_req, info) => new Response(info.remoteAddr.path);
const onAny: Handler<NetAddr> = (_req, info) => new Response(info.remoteAddr.transport);
serve({ path: "/tmp/x.sock", fetch: onUnix });
serve(onUnix, { path: "/tmp/x.sock" });
serve({ path: "/tmp/x.sock" }, onAny);
// An inline handler's info is typed TCP, as before.
serve({ port: 0, fetch: (_req, info) => new Response(info.remoteAddr.hostname + info.remoteAddr.port) });
serve((_req, info) => new Response(info.remoteAddr.hostname));
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
    it(`exports the same names from each entry under ${runtime}`, () => {
      const [cmd, args] = runtime === "node"
        ? [process.execPath, ["exports.mjs"]]
        : runtime === "deno"
        ? [bin("deno"), ["run", "-A", "--no-lock", "exports.mjs"]]
        : [bin("bun"), ["run", "exports.mjs"]];
      const out = execFileSync(cmd, args, { cwd: dir, encoding: "utf8" });
      const names = JSON.parse(/^EXPORTS (.*)$/m.exec(out)![1]) as Record<string, string[]>;
      expect(names).toEqual(Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, [...v].sort()])));
      expect(names.portico).toEqual(expect.arrayContaining(KEPT));
    }, 30_000);

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
