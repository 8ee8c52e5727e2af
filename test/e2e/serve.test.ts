/**
 * serve() itself under node, deno and bun: the three call forms, the default
 * onListen line, graceful shutdown, the signal option, asyncDispose, a port
 * in use, info.completed, server.url and server.ready(), and unref().
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { commandFor, projectRoot, RUNTIMES } from "../helpers/runtime.ts";

function run(runtime: (typeof RUNTIMES)[number], mode: string, timeoutMs = 20_000) {
  const [cmd, args] = commandFor(runtime, path.join("test", "fixtures", "lifecycle.mjs"), [mode]);
  return new Promise<{ code: number | null; out: string; err: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${runtime} lifecycle ${mode} did not exit within ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - started });
    });
  });
}

describe.each(RUNTIMES)("serve() lifecycle on %s", (runtime) => {
  const results = new Map<string, unknown>();
  let stderr = "";

  beforeAll(async () => {
    const { code, out, err } = await run(runtime, "all");
    stderr = err;
    for (const line of out.split("\n")) {
      const m = /^RESULT (\S+) (.*)$/.exec(line);
      if (m) results.set(m[1], JSON.parse(m[2]));
    }
    if (code !== 0) throw new Error(`lifecycle fixture exited ${code}\n${out}\n${err}`);
  }, 60_000);

  it("ran on the intended runtime", () => {
    expect(results.get("runtime"), stderr).toBe(runtime);
  });

  it("accepts the three call forms", () => {
    expect(results.get("forms")).toEqual(["form /p", "form /p", "form /p"]);
  });

  it("logs the default onListen line and reports the bound address", () => {
    const { lines, addr } = results.get("onListen") as { lines: string[]; addr: { port: number; hostname: string } };
    expect(addr.port).toBeGreaterThan(0);
    expect(addr.hostname).toBe("127.0.0.1");
    expect(lines).toEqual([`Listening on http://127.0.0.1:${addr.port}/`]);
  });

  it("shuts down gracefully: the in-flight request completes with Connection: close, new clients are refused", () => {
    expect(results.get("graceful")).toEqual({
      status: 200,
      body: "slow done",
      connection: "close",
      refused: true,
      handlerDoneWhenFinished: true,
    });
  });

  it("stops through the signal option and through Symbol.asyncDispose", () => {
    expect(results.get("stop")).toEqual({ viaSignal: true, viaDispose: true });
  });

  it("rejects `finished` when the port is in use", () => {
    expect((results.get("inUse") as { error: string | null }).error).toMatch(/EADDRINUSE|AddrInUse/);
  });

  it("settles info.completed and closes the request group after the response", () => {
    expect(results.get("completed")).toEqual(["completed", "group closed"]);
  });

  it("gives server.url and server.ready() once listening; ready() rejects with the listen error", () => {
    const r = results.get("ready") as { error: string | null };
    expect(r).toMatchObject({ before: "", same: true, url: true, body: "url /ready", wildcard: true, failedUrl: "" });
    expect(r.error).toMatch(/EADDRINUSE|AddrInUse/);
  });

  it("lets the process exit after unref()", async () => {
    const { code, out } = await run(runtime, "unref", 10_000);
    expect(out).toMatch(/LISTENING \d+/);
    expect(code).toBe(0);
  });
});
