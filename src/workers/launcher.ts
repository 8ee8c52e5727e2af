/**
 * What a worker launcher is: the contract between `supervise()` and the code
 * that starts processes on each runtime (`adapters/node_cluster.ts`,
 * `adapters/deno_workers.ts`, `adapters/bun_workers.ts`).
 *
 * @module
 */

/** How a worker process ended. */
export interface WorkerExit {
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
}

/** A running worker process. */
export interface WorkerProcess {
  /** Its process id. */
  readonly pid: number;
  /** Settles once the process has exited and been reaped; never rejects. */
  readonly exited: Promise<WorkerExit>;
  /** Sends a signal; does nothing once the process has exited. */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

/** Starts worker processes: copies of the current program, told their id through the environment. */
export interface WorkerLauncher {
  /** Starts worker `id` with `env` added to the environment. */
  launch(id: number, env: Record<string, string>): WorkerProcess;
}
