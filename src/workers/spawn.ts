/**
 * Workers as plain subprocesses running the same program under the same
 * runtime (Deno, Bun): they listen with `reusePort`, and the kernel spreads
 * connections among them.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import type { WorkerExit, WorkerLauncher, WorkerProcess } from "./supervisor.ts";

/**
 * Starts copies of the current program: `deno run -A --unstable-net <script> <args>` under
 * Deno, `bun <script> <args>` under Bun, `node <script> <args>` under Node.
 * Workers inherit stdout and stderr.
 *
 * @example
 * ```ts
 * import { subprocessLauncher, supervise } from "portico";
 * supervise({ workers: 2, launcher: subprocessLauncher() });
 * ```
 */
export function subprocessLauncher(argv: string[] = process.argv.slice(1)): WorkerLauncher {
  const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
  // Deno's reusePort is behind --unstable-net.
  const args = deno ? ["run", "-A", "--unstable-net", ...argv] : argv;
  return {
    launch(_id: number, env: Record<string, string>): WorkerProcess {
      const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: "inherit" });
      const exited = new Promise<WorkerExit>((resolve) => {
        child.once("exit", (code, signal) => resolve({ code, signal }));
        child.once("error", () => resolve({ code: null, signal: null }));
      });
      return {
        pid: child.pid ?? -1,
        exited,
        kill: (signal) => void child.kill(signal),
      };
    },
  };
}
