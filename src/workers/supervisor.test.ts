import { describe, expect, it } from "vitest";
import type { WorkerExit, WorkerLauncher, WorkerProcess } from "./launcher.ts";
import { supervise } from "./supervisor.ts";

/** Workers that exit `stopMs` after SIGTERM, at once after SIGKILL; what each was sent is recorded. */
function slowStopping(stopMs: number) {
  const signals: string[] = [];
  const launcher: WorkerLauncher = {
    launch(id): WorkerProcess {
      let exit!: (e: WorkerExit) => void;
      const exited = new Promise<WorkerExit>((r) => (exit = r));
      let done = false;
      const end = (e: WorkerExit) => {
        if (!done) (done = true), exit(e);
      };
      return {
        pid: 1000 + id,
        exited,
        kill(signal) {
          signals.push(signal);
          if (signal === "SIGKILL") end({ code: null, signal });
          else setTimeout(() => end({ code: 0, signal: null }), stopMs);
        },
      };
    },
  };
  return { launcher, signals };
}

describe("supervise", () => {
  it("with shutdownTimeout Infinity waits for its workers however long they take, and kills none", async () => {
    // Past what a timer can wait, runtimes fire at once: every worker was SIGKILLed after 1 ms.
    const { launcher, signals } = slowStopping(150);
    const s = supervise({ workers: 2, launcher, shutdownTimeout: Infinity, log: () => {} });
    const t0 = performance.now();
    await s.shutdown();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(signals).toEqual(["SIGTERM", "SIGTERM"]);
  });

  it("kills the workers still running at a finite deadline", async () => {
    const { launcher, signals } = slowStopping(10_000);
    const s = supervise({ workers: 2, launcher, shutdownTimeout: 100, log: () => {} });
    await s.shutdown();
    expect(signals).toEqual(["SIGTERM", "SIGTERM", "SIGKILL", "SIGKILL"]);
  });
});
