/**
 * The worker side of the supervisor: who am I, and a graceful exit on the
 * supervisor's SIGTERM.
 *
 * @module
 */

import process from "node:process";
import { clearInterval, setInterval } from "node:timers";
import { platform } from "../platform.ts";

/** The environment variable that carries a worker's id. */
export const WORKER_ENV = "PORTICO_WORKER_ID";

/**
 * This process's worker id (1…N) when a supervisor started it, else null.
 * Never throws and never asks for a permission: under Deno without
 * `--allow-env` the variable cannot be read, and the process is no worker
 * (the launchers start workers with `-A`).
 *
 * @example
 * ```ts
 * import { workerId } from "portico";
 * console.log(workerId() === null ? "primary" : `worker ${workerId()}`);
 * ```
 */
export function workerId(): number | null {
  const v = platform().env(WORKER_ENV);
  return v === undefined ? null : Number(v);
}

const servers = new Set<{ shutdown(): Promise<void> }>();
let installed = false;

/** How often a worker checks that its supervisor is still its parent. */
const ORPHAN_CHECK_MS = 500;

/**
 * In a worker, shuts `server` down gracefully on SIGTERM or SIGINT, so that
 * in-flight responses finish and the process exits by itself, with status 0;
 * and likewise when the supervisor dies without stopping it (SIGKILL, the
 * OOM killer), so that no orphaned worker keeps serving and holds the port.
 * `serve()` calls this for every server it starts in a worker.
 */
export function stopOnSignal(server: { shutdown(): Promise<void> }): void {
  servers.add(server);
  if (installed) return;
  installed = true;
  // Repeated signals (a process-group kill plus the supervisor's own) must
  // not turn into the default action halfway through: the first one starts
  // the graceful stop, later ones are ignored; the supervisor's deadline
  // (SIGKILL) bounds it. Once the servers are down, a signal ends the
  // process with status 0: a terminal's Ctrl-C reaches the whole process
  // group, and the supervisor's SIGTERM that follows found the handlers
  // gone and killed the worker by the signal's default action. (The
  // handlers keep no process alive, on any of the three runtimes.)
  let stopping = false;
  let stopped = false;
  const stop = () => {
    if (stopped) process.exit(0);
    if (stopping) return;
    stopping = true;
    clearInterval(orphanWatch);
    void Promise.all([...servers].map((s) => s.shutdown())).then(() => {
      stopped = true;
      // A cluster worker's IPC channel would keep it alive.
      const p = process as { connected?: boolean; disconnect?: () => void };
      if (p.connected) p.disconnect?.();
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // A Deno or Bun worker is a plain subprocess: nothing tells it that its
  // supervisor died, and it would serve on as an orphan. An orphan is
  // reparented, so its parent pid changes: look twice a second (reading the
  // pid is one system call), without keeping the process alive.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent) stop();
  }, ORPHAN_CHECK_MS);
  orphanWatch.unref();
}
