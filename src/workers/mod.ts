/**
 * `portico/workers`: several worker processes on one port. `supervise`
 * starts and restarts them and stops them gracefully on SIGTERM; `workerId`
 * tells a worker from the supervisor. Both are also on the root entry; the
 * launcher interface (to start workers some other way) and the option types
 * are here.
 *
 * @example
 * ```ts
 * import { serve } from "portico";
 * import { supervise, workerId } from "portico/workers";
 * if (workerId() === null) supervise({ workers: 4 });
 * else serve({ port: 8000, reusePort: true, fetch: () => new Response(`worker ${workerId()}`) });
 * ```
 *
 * @module
 */

// The workers' default launcher and workerId() read the runtime this
// program runs on, which runtime.ts binds (as the root entry does).
import "../../runtime.ts";

export { supervise } from "./supervisor.ts";
export type { SuperviseOptions, Supervisor } from "./supervisor.ts";
export type { WorkerExit, WorkerLauncher, WorkerProcess } from "./launcher.ts";
export { stopOnSignal, workerId } from "./worker.ts";
