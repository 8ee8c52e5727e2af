/**
 * examples/tutorial.ts (and the npm start demo) as a user runs it, under node, deno and bun: it
 * takes --host and --port as the other examples do, binds exactly there,
 * and refuses bad arguments with its usage and status 2.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { commandFor, projectRoot, RUNTIMES, type Runtime } from "../helpers/runtime.ts";

function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function runTutorial(runtime: Runtime, args: string[], env: Record<string, string> = {}) {
  const file = runtime === "node" ? "dist/examples/tutorial.js" : "examples/tutorial.ts";
  const [cmd, argv] = commandFor(runtime, file, args);
  const child = spawn(cmd, argv, {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const listening = async (): Promise<string> => {
    const deadline = Date.now() + 20_000;
    while (!/Listening on/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not listen\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  };
  return { child, exited, listening, out: () => out, err: () => err };
}

describe.each(RUNTIMES)("examples/tutorial.ts on %s", (runtime) => {
  it("listens on --host and --port", async () => {
    // 127.0.0.2 is loopback too, but not 127.0.0.1: the server must bind the host it was given.
    const port = await freePort("127.0.0.2");
    const t = runTutorial(runtime, ["--host", "127.0.0.2", "--port", String(port)], { PORT: "1" });
    expect(await t.listening()).toContain(`127.0.0.2:${port}`);
    const res = await fetch(`http://127.0.0.2:${port}/hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Hello, World!");
    await expect(fetch(`http://127.0.0.1:${port}/hello`)).rejects.toThrow();
    t.child.kill("SIGTERM");
    await t.exited;
  });

  it("--port 0 picks a free port; the host defaults to 127.0.0.1", async () => {
    const t = runTutorial(runtime, ["--port", "0"]);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(await t.listening())?.[1]);
    expect(port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${port}/many?number=3`);
    expect(res.status).toBe(200);
    t.child.kill("SIGTERM");
    await t.exited;
  });

  it("refuses a bad port or an unknown flag with its usage and status 2; --help prints it", async () => {
    for (const args of [["--port", "eighty"], ["--port", "70000"], ["--hots", "x"]]) {
      const t = runTutorial(runtime, args);
      expect(await t.exited).toBe(2);
      expect(t.err()).toContain("usage: tutorial [--port n] [--host name]");
    }
    const help = runTutorial(runtime, ["--help"]);
    expect(await help.exited).toBe(0);
    expect(help.out()).toContain("usage: tutorial [--port n] [--host name]");
  });
});

describe.each(RUNTIMES)("examples/demo.ts (npm start) on %s", (runtime) => {
  it("names the address it was reached at in its page, and echoes a body", async () => {
    const port = await freePort();
    const file = runtime === "node" ? "dist/examples/demo.js" : "examples/demo.ts";
    const [cmd, argv] = commandFor(runtime, file);
    const child = spawn(cmd, argv, {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: "1", PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.push(child);
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!/Listening on/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not listen\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    // Its own port, not the default 8000 (it said 8000 whatever PORT was).
    expect(page).toContain(`<code>curl -d 'hi' 127.0.0.1:${port}/echo</code>`);
    const echo = await fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", body: "hi" });
    expect(await echo.text()).toBe("hi");
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  });
});
