/**
 * Deno workers through `Deno.Command`: subprocesses running the same program
 * (`deno run -A --unstable-net <script>`) that listen with `reusePort`.
 * `node:child_process` under Deno reports the signal it sent rather than how
 * the child really ended, so exits go through Deno's own API.
 *
 * @module
 */

import type { WorkerExit, WorkerLauncher, WorkerProcess } from "../src/workers/launcher.ts";

interface DenoChild {
  readonly pid: number;
  readonly status: Promise<{ code: number; signal: string | null }>;
  kill(signal: string): void;
}
interface DenoApi {
  execPath(): string;
  readonly mainModule: string;
  readonly args: string[];
  readonly env: { toObject(): Record<string, string> };
  Command: new (cmd: string, options: {
    args: string[];
    env: Record<string, string>;
    stdin: "null";
    stdout: "inherit";
    stderr: "inherit";
  }) => { spawn(): DenoChild };
}

/**
 * Starts copies of the current Deno program as workers.
 *
 * @example
 * ```ts
 * import { supervise } from "jsr:@portico/portico";
 * import { denoLauncher } from "jsr:@portico/portico/adapters/deno_workers";
 * supervise({ workers: 2, launcher: denoLauncher() });
 * ```
 */
export function denoLauncher(): WorkerLauncher {
  const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
  const args = ["run", "-A", "--unstable-net", Deno.mainModule, ...Deno.args];
  return {
    launch(_id: number, env: Record<string, string>): WorkerProcess {
      const child = new Deno.Command(Deno.execPath(), {
        args,
        env: { ...Deno.env.toObject(), ...env },
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      const exited: Promise<WorkerExit> = child.status.then(
        (s) => ({ code: s.signal ? null : s.code, signal: s.signal }),
        () => ({ code: null, signal: null }),
      );
      return {
        pid: child.pid,
        exited,
        kill: (signal) => {
          try {
            child.kill(signal);
          } catch {
            // already exited
          }
        },
      };
    },
  };
}
