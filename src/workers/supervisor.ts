/**
 * A supervisor of worker processes: the fork/reap server, grown up.
 *
 * It runs N copies of the current program as workers on one port, collects
 * every exit (so no zombie is left), restarts a worker that dies — with
 * exponential backoff, and not at all once one worker crash-loops — and
 * turns SIGTERM/SIGINT into a graceful shutdown of every worker within a
 * deadline, killing what remains after it. Starts, exits and restarts are
 * logged.
 *
 * How workers start and share the port is the runtime's business, behind
 * the {@link WorkerLauncher} interface (./launcher.ts): Node forks through
 * `node:cluster` (the primary accepts and hands connections out), Deno (its
 * `Command` API) and Bun (`node:child_process`) start plain subprocesses that
 * listen with `reusePort` (the kernel spreads connections). The launchers
 * live together in `adapters/` (node_cluster.ts, deno_workers.ts,
 * bun_workers.ts); the entry's platform (src/platform.ts) supplies the
 * default one, so this file knows no runtime.
 *
 * @module
 */

import { availableParallelism } from "node:os";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { timerCanWait } from "../timer.ts";
import { platform } from "../platform.ts";
import type { WorkerLauncher, WorkerProcess } from "./launcher.ts";
import { WORKER_ENV } from "./worker.ts";

/** Options of {@link supervise}. */
export interface SuperviseOptions {
  /** How many workers. Default: the number of CPUs this process may use (`os.availableParallelism()`). */
  workers?: number;
  /**
   * How to start them; default: the runtime's launcher (`node:cluster` on
   * Node, subprocesses of Deno's `Command` API on Deno, `node:child_process` on Bun: see
   * `adapters/*_workers.ts`, `adapters/node_cluster.ts`).
   */
  launcher?: WorkerLauncher;
  /** Graceful-shutdown deadline in ms, after which remaining workers are killed (`Infinity`: none). Default 10 000. */
  shutdownTimeout?: number;
  /** First restart delay in ms, doubled for each recent failure. Default 100. */
  backoff?: number;
  /** Longest restart delay in ms. Default 5 000. */
  maxBackoff?: number;
  /**
   * More than this many restarts of one worker (one slot: worker 1, worker 2…)
   * within `crashWindow` ms means a crash loop. Counted per slot, so that all
   * workers killed at once count once each. Default 5.
   */
  maxRestarts?: number;
  /** The window, in ms, in which restarts are counted. Default 10 000. */
  crashWindow?: number;
  /** Where log lines go. Default: `console.log`, prefixed with "[portico]". */
  log?: (line: string) => void;
  /** Turn SIGTERM and SIGINT into `shutdown()`. Default true. */
  handleSignals?: boolean;
}

/** A running supervisor. */
export interface Supervisor {
  /**
   * Settles when every worker has exited after `shutdown()`. Rejects when the
   * program crash-loops or no worker can be started; the process's exit code
   * is then 1. Leaving the rejection unhandled is safe: it never kills the
   * supervisor.
   */
  readonly finished: Promise<void>;
  /** The live workers. */
  readonly workers: ReadonlyArray<{ id: number; pid: number }>;
  /** Graceful: SIGTERM every worker, wait up to the deadline, SIGKILL the rest. */
  shutdown(): Promise<void>;
}

/**
 * Runs the current program as `workers` supervised worker processes. Call it
 * in the primary; in a worker (`workerId() !== null`) start the server, with
 * `reusePort: true`.
 *
 * @example
 * ```ts
 * import { serve, supervise, workerId } from "portico";
 * if (workerId() === null) {
 *   supervise({ workers: 4 });
 * } else {
 *   serve({ port: 8000, reusePort: true, fetch: () => new Response(`worker ${workerId()}`) });
 * }
 * ```
 */
export function supervise(options: SuperviseOptions = {}): Supervisor {
  // node:os, not navigator.hardwareConcurrency: Node 20 has no navigator, and
  // Deno answers availableParallelism() without --allow-sys.
  const count = options.workers ?? Math.max(1, availableParallelism());
  const deadline = options.shutdownTimeout ?? 10_000;
  const backoff = options.backoff ?? 100;
  const maxBackoff = options.maxBackoff ?? 5_000;
  const maxRestarts = options.maxRestarts ?? 5;
  const window = options.crashWindow ?? 10_000;
  const userLog = options.log ?? ((line: string) => console.log(`[portico] ${line}`));
  // A log callback that throws must not take the supervisor down with it.
  const log = (line: string) => {
    try {
      userLog(line);
    } catch {
      // nowhere left to report it
    }
  };

  const live = new Map<number, WorkerProcess>();
  // Exit times per worker slot, within the window: a crash loop is one slot
  // dying again and again. Counting across slots would call a kill of all N
  // workers at once (an OOM kill, `kill -9` of the group) a crash loop as
  // soon as N > maxRestarts, and give up with the port dead.
  const exits = new Map<number, number[]>();
  const pendingRestarts = new Set<ReturnType<typeof setTimeout>>();
  let stopping = false;
  let resolveFinished!: () => void;
  let rejectFinished!: (e: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    resolveFinished = resolve;
    rejectFinished = reject;
  });
  // Whoever awaits `finished` sees the rejection; nobody awaiting it must not
  // make it an unhandled rejection, which would kill the supervisor itself.
  finished.catch(() => {});
  let launcher: WorkerLauncher | null = options.launcher ?? null;
  let failure: Error | null = null;
  let shutdownPromise: Promise<void> | null = null;

  const start = (id: number) => {
    let w: WorkerProcess;
    try {
      w = launcher!.launch(id, { [WORKER_ENV]: String(id) });
    } catch (e) {
      log(`cannot start worker ${id}: ${e instanceof Error ? e.message : String(e)}`);
      died(id);
      return;
    }
    live.set(id, w);
    log(`worker ${id} started (pid ${w.pid})`);
    void w.exited.then((exit) => {
      if (live.get(id) === w) live.delete(id);
      const how = exit.signal ? `signal ${exit.signal}` : `status ${exit.code}`;
      log(`worker ${id} (pid ${w.pid}) exited with ${how}`);
      if (stopping) {
        if (live.size === 0) settle();
        return;
      }
      died(id);
    });
  };

  /** Worker slot `id` has no process: restart it after its backoff, unless it crash-loops. */
  const died = (id: number) => {
    if (stopping) return;
    const now = Date.now();
    const recent = (exits.get(id) ?? []).filter((t) => t >= now - window);
    recent.push(now);
    exits.set(id, recent);
    if (recent.length > maxRestarts) {
      failure = new Error(
        `worker ${id} keeps dying (${recent.length} exits within ${window} ms): ` +
          `the program is crash-looping; not restarting it`,
      );
      log(failure.message);
      void shutdown();
      return;
    }
    const delay = Math.min(maxBackoff, backoff * 2 ** (recent.length - 1));
    log(`restarting worker ${id} in ${delay} ms`);
    const t = setTimeout(() => {
      pendingRestarts.delete(t);
      if (!stopping) start(id);
    }, delay);
    pendingRestarts.add(t);
  };

  const settle = () => {
    if (signalsInstalled) {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    if (failure) {
      // The program failed: its supervisor exits non-zero (unless told otherwise).
      if (!process.exitCode) process.exitCode = 1;
      rejectFinished(failure);
    } else resolveFinished();
  };

  const shutdown = (): Promise<void> => {
    if (shutdownPromise) return shutdownPromise;
    stopping = true;
    for (const t of pendingRestarts) clearTimeout(t);
    pendingRestarts.clear();
    shutdownPromise = (async () => {
      if (live.size === 0) {
        settle();
        return;
      }
      log(`stopping ${live.size} worker(s), deadline ${deadline} ms`);
      const all = [...live.values()];
      for (const w of all) w.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) => {
        // Infinity: wait as long as the workers take (a timer would fire at once).
        if (timerCanWait(deadline)) timer = setTimeout(() => r("timeout"), deadline);
      });
      const outcome = await Promise.race([Promise.all(all.map((w) => w.exited)), timeout]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        for (const w of live.values()) {
          log(`worker (pid ${w.pid}) did not stop within ${deadline} ms: killing it`);
          w.kill("SIGKILL");
        }
        await Promise.all(all.map((w) => w.exited));
      }
      await finished.catch(() => {});
    })();
    return shutdownPromise;
  };

  const onSignal = (signal: string) => {
    log(`received ${signal}: shutting down`);
    void shutdown();
  };
  const signalsInstalled = options.handleSignals !== false;
  if (signalsInstalled) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }

  void (async () => {
    try {
      launcher ??= await platform().launcher();
      for (let id = 1; id <= count && !stopping; id++) start(id);
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
      log(`cannot start workers: ${failure.message}`);
      stopping = true;
      settle();
    }
  })();

  return {
    finished,
    get workers() {
      return [...live].map(([id, w]) => ({ id, pid: w.pid }));
    },
    shutdown,
  };
}
