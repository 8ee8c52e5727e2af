/**
 * Bun workers through `node:child_process`: subprocesses running the same
 * program (`bun <script> <args>`) that listen with `reusePort`, so that the
 * kernel spreads connections among them.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import type { WorkerExit, WorkerLauncher, WorkerProcess } from "../src/workers/launcher.ts";

/**
 * Starts copies of the current Bun program as workers (`bun <script> <args>`,
 * or `argv` after the executable). Workers inherit stdout and stderr.
 *
 * @example
 * ```ts
 * import { supervise } from "portico";
 * import { bunLauncher } from "portico/adapters/bun_workers";
 * supervise({ workers: 2, launcher: bunLauncher() });
 * ```
 */
export function bunLauncher(argv: string[] = process.argv.slice(1)): WorkerLauncher {
  return {
    launch(_id: number, env: Record<string, string>): WorkerProcess {
      const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: "inherit" });
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
