/**
 * Node workers through `node:cluster`: the primary accepts and hands
 * connections to the workers, so no `reusePort` is needed (Node 20 has none).
 *
 * @module
 */

import cluster from "node:cluster";
import type { WorkerExit, WorkerLauncher, WorkerProcess } from "../src/workers/launcher.ts";

/**
 * Forks copies of the current program with `node:cluster`.
 *
 * @example
 * ```ts
 * import { supervise } from "portico";
 * import { clusterLauncher } from "portico/adapters/node_cluster";
 * supervise({ workers: 2, launcher: clusterLauncher });
 * ```
 */
export const clusterLauncher: WorkerLauncher = {
  launch(_id: number, env: Record<string, string>): WorkerProcess {
    const worker = cluster.fork(env);
    const exited = new Promise<WorkerExit>((resolve) => {
      worker.once("exit", (code, signal) => resolve({ code: signal ? null : code, signal: signal || null }));
    });
    return {
      pid: worker.process.pid ?? -1,
      exited,
      kill: (signal) => void worker.process.kill(signal),
    };
  },
};
