/**
 * Starts a fixture server under node, deno or bun and waits for it to listen.
 *
 * The fixture prints `LISTENING <port>` from portico's onListen. Processes run
 * from the project root, so Deno sees package.json (and node_modules) and the
 * fixtures resolve their entry (dist/mod.js or src/mod.ts) against the root.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type Runtime = "node" | "deno" | "bun";
export const RUNTIMES: Runtime[] = ["node", "deno", "bun"];

export const projectRoot: string = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
);

export interface RunningServer {
  runtime: Runtime;
  port: number;
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  /** Everything the process wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** The child process. */
  child: ChildProcess;
  /** Kills the process (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment for the child (e.g. PORTICO_ENTRY). */
  env?: Record<string, string>;
  /** Extra argv after the fixture path (e.g. `--entry=/tmp/x.mjs`). */
  args?: string[];
  /** How long to wait for `LISTENING <port>` (default 20 s). */
  timeoutMs?: number;
}

/** The command line that runs `fixtureFile` (relative to the root) under `runtime`. */
export function commandFor(runtime: Runtime, fixtureFile: string, args: string[] = []): [string, string[]] {
  switch (runtime) {
    case "node":
      return [process.execPath, [fixtureFile, ...args]];
    case "deno":
      // --no-lock: do not write deno.lock into the project.
      return [
        path.join(projectRoot, "node_modules", ".bin", "deno"),
        ["run", "-A", "--no-lock", fixtureFile, ...args],
      ];
    case "bun":
      return [path.join(projectRoot, "node_modules", ".bin", "bun"), ["run", fixtureFile, ...args]];
  }
}

/**
 * Spawns `test/fixtures/<fixture>` under `runtime` and resolves once it printed
 * `LISTENING <port>`. Rejects after `timeoutMs` (or if the process exits first)
 * with its stdout and stderr in the message.
 */
export function startServer(
  runtime: Runtime,
  fixture = "server.mjs",
  options: StartOptions = {},
): Promise<RunningServer> {
  const fixtureFile = path.join("test", "fixtures", fixture);
  const [cmd, args] = commandFor(runtime, fixtureFile, options.args);
  const timeoutMs = options.timeoutMs ?? 20_000;

  const child = spawn(cmd, args, {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    err += d;
  });

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killed = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
    ]);
    if (!killed) {
      child.kill("SIGKILL");
      await exited;
    }
  };

  return new Promise<RunningServer>((resolve, reject) => {
    let settled = false;
    const describe = (why: string) =>
      new Error(
        `${runtime} fixture ${fixture} ${why}\n` +
          `command: ${cmd} ${args.join(" ")} (cwd ${projectRoot})\n` +
          `--- stdout ---\n${out.trimEnd()}\n--- stderr ---\n${err.trimEnd()}`,
      );
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop().finally(() => reject(describe(why)));
    };
    const timer = setTimeout(() => fail(`did not print "LISTENING <port>" within ${timeoutMs} ms`), timeoutMs);

    child.once("error", (e) => fail(`could not be spawned: ${e.message}`));
    child.once("exit", (code, signal) => {
      // give stderr a moment to drain into `err`
      setTimeout(() => fail(`exited (code ${code}, signal ${signal}) before listening`), 50);
    });
    child.stdout!.on("data", (d: string) => {
      out += d;
      const m = /^LISTENING (\d+)\s*$/m.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        const port = Number(m[1]);
        resolve({
          runtime,
          port,
          url: `http://127.0.0.1:${port}`,
          stdout: () => out,
          stderr: () => err,
          child,
          stop,
        });
      }
    });
  });
}

/**
 * Makes a failing test print what a server process wrote to stderr while
 * the test ran. Call it from `beforeEach`.
 */
export function printStderrOnFailure(
  ctx: { task: { name: string }; onTestFailed(fn: () => void): void },
  label: string,
  server: () => { stderr(): string } | undefined,
): void {
  const from = server()?.stderr().length ?? 0;
  ctx.onTestFailed(() => {
    const tail = server()?.stderr().slice(from).trim();
    if (tail) console.error(`[${label} stderr during "${ctx.task.name}"]\n${tail.slice(-3000)}`);
  });
}
