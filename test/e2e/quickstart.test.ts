/**
 * The README's quick starts, run as a newcomer runs them: each snippet is
 * copied out of README.md into a fresh directory, with the package name
 * mapped to this checkout (node_modules/portico for node and bun, an import
 * map for deno) and port 8000 replaced by a free port (the one edit: other
 * tests may hold 8000), then started with the README's own command line
 * (`deno run --allow-net app.ts`: no other permission) and fetched from.
 * Also: workerId() answers without env permission.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, RUNTIMES, type Runtime } from "../helpers/runtime.ts";

const bin = (name: string) => path.join(projectRoot, "node_modules", ".bin", name);
const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");
const label: Record<Runtime, string> = { node: "Node", deno: "Deno", bun: "Bun" };

/** The quick start of `runtime`: its file name, code and command line, as the README gives them. */
function quickStart(runtime: Runtime): { file: string; code: string; command: string[] } {
  const section = readme.slice(readme.indexOf("## Quick start"));
  const m = new RegExp(
    `^${label[runtime]} \\(.*\\), \`(app\\.\\w+)\`:\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*\`([^\`]+)\``,
    "m",
  ).exec(section);
  if (!m) throw new Error(`README has no ${label[runtime]} quick start in the expected shape`);
  // `npx -y deno …` and `deno …` are the same program here.
  const words = m[3].trim().split(/\s+/);
  const command = words[0] === "npx" ? words.slice(1).filter((w, i) => !(i === 0 && (w === "-y" || w === "--yes"))) : words;
  return { file: m[1], code: m[2], command };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

let dir = "";
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "portico-quickstart-"));
  // node and bun find "portico" as an installed package would be found.
  fs.mkdirSync(path.join(dir, "node_modules"));
  fs.symlinkSync(projectRoot, path.join(dir, "node_modules", "portico"), "dir");
  // deno finds "@portico/portico" where JSR would: deno.json's "." export.
  const denoJson = JSON.parse(fs.readFileSync(path.join(projectRoot, "deno.json"), "utf8"));
  const entry = pathToFileURL(path.join(projectRoot, denoJson.exports["."])).href;
  fs.writeFileSync(path.join(dir, "deno.json"), JSON.stringify({ imports: { "@portico/portico": entry } }));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function run(cmd: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string } {
  const exe = cmd[0] === "node" ? process.execPath : cmd[0] === "script" ? "script" : bin(cmd[0]);
  const child = spawn(exe, cmd.slice(1), {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return { child, out: () => out };
}

async function fetchWhenUp(url: string, proc: { child: ChildProcess; out: () => string }): Promise<Response> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}:\n${proc.out()}`);
    try {
      return await fetch(url);
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer: ${error}\n${proc.out()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.each(RUNTIMES)("the README quick start on %s", (runtime) => {
  it("runs as written and answers", async () => {
    const qs = quickStart(runtime);
    expect(qs.command[0]).toBe(runtime);
    if (runtime === "deno") expect(qs.command).toEqual(["deno", "run", "--allow-net", qs.file]);
    const port = await freePort();
    expect(qs.code.match(/\b8000\b/g)).toHaveLength(1);
    fs.writeFileSync(path.join(dir, qs.file), qs.code.replace(/\b8000\b/, String(port)));
    const proc = run(qs.command);
    const res = await fetchWhenUp(`http://127.0.0.1:${port}/some/path`, proc);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`Hello from ${label[runtime]}: /some/path`);
    expect(proc.out()).not.toMatch(/NotCapable|error/i);
    proc.child.kill("SIGTERM");
  });

  it("says in one line, and exits with status 1, when its port is taken", async () => {
    const qs = quickStart(runtime);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "0.0.0.0", r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const file = `taken_${qs.file}`;
      fs.writeFileSync(path.join(dir, file), qs.code.replace(/\b8000\b/, String(port)));
      const proc = run([...qs.command.slice(0, -1), file]);
      const code = await new Promise((r) => proc.child.once("exit", r));
      expect(code).toBe(1);
      // The one line, and nothing else: no stack trace, no unhandled rejection.
      expect(proc.out()).toBe(`portico: cannot listen on 0.0.0.0:${port}: the address is already in use\n`);
    } finally {
      holder.close();
    }
  });

  it("workerId() is null outside a supervisor and never needs env permission", async () => {
    const file = `worker_id_${runtime}.mjs`;
    fs.writeFileSync(
      path.join(dir, file),
      `import { workerId } from ${JSON.stringify(runtime === "deno" ? "@portico/portico" : "portico")};\n` +
        `console.log("WORKER " + workerId());\n`,
    );
    const runOnce = async (cmd: string[], env: Record<string, string>) => {
      const p = run(cmd, env);
      await new Promise((r) => p.child.once("exit", r));
      return { code: p.child.exitCode, out: p.out() };
    };
    const cmd = runtime === "deno" ? ["deno", "run", file] : runtime === "bun" ? ["bun", file] : ["node", file];
    // Not a worker: no variable.
    expect(await runOnce(cmd, {})).toEqual({ code: 0, out: "WORKER null\n" });
    // Set by a supervisor: read where reading is allowed.
    const allowed = runtime === "deno" ? ["deno", "run", "--allow-env", file] : cmd;
    expect(await runOnce(allowed, { PORTICO_WORKER_ID: "3" })).toEqual({ code: 0, out: "WORKER 3\n" });
    if (runtime === "deno") {
      // Without --allow-env (and no terminal to ask on): no throw, no worker.
      expect(await runOnce(cmd, { PORTICO_WORKER_ID: "3" })).toEqual({ code: 0, out: "WORKER null\n" });
      // On a terminal, where Deno would ask "Deno requests env access…" and
      // wait for an answer: no question either. script(1) gives it a terminal.
      const line = [bin("deno"), ...cmd.slice(1)].map((a) => `'${a}'`).join(" ");
      const tty = await runOnce(["script", "-qec", line, "/dev/null"], { PORTICO_WORKER_ID: "3" });
      expect(tty.out).not.toContain("requests");
      expect(tty.out.replace(/\r/g, "")).toBe("WORKER null\n");
      expect(tty.code).toBe(0);
    }
  });
});
