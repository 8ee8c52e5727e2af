import { describe, expect, it } from "vitest";
import { type GroupShutdownError, ResourceGroup } from "./group.ts";

describe("ResourceGroup", () => {
  it("shuts children down first, then its own resources in reverse order of adoption", async () => {
    const log: string[] = [];
    const root = new ResourceGroup({ name: "root" });
    root.adopt({ close: () => void log.push("root a") });
    const child = root.child({ name: "child" });
    child.defer(() => void log.push("child x"));
    root.adopt({ [Symbol.dispose]: () => void log.push("root b") });
    root.adopt({ [Symbol.asyncDispose]: () => Promise.resolve(void log.push("root c")) });
    await root.shutdown();
    expect(log).toEqual(["child x", "root c", "root b", "root a"]);
    expect(root.usage).toEqual({ groups: 1, resources: 0, bytes: 0 });
  });

  it("closes a function it adopts through its close(), not by calling it, and interleaves adoptions with finalisers", async () => {
    const log: string[] = [];
    const reported: unknown[] = [];
    const g = new ResourceGroup({ onError: (e) => reported.push(e) });
    const fnResource = Object.assign(() => void log.push("called"), { close: () => void log.push("fn closed") });
    g.adopt(fnResource);
    g.defer(() => void log.push("deferred"));
    g.adopt({ close: () => Promise.reject(new Error("close failed")) });
    g.adopt({ close: () => void log.push("object closed") });
    await g.shutdown();
    expect(log).toEqual(["object closed", "deferred", "fn closed"]);
    expect(g.errors.map((e) => (e as Error).message)).toEqual(["close failed"]);
    expect(reported).toEqual(g.errors);
    expect(g.errors).toBe(g.errors);
    g.adopt({ close: () => void log.push("after shutdown") });
    await new Promise((r) => setTimeout(r, 0));
    expect(log.at(-1)).toBe("after shutdown");
  });

  it("refuses to adopt what it cannot close, at the call", () => {
    const g = new ResourceGroup();
    expect(() => g.adopt(null as never)).toThrow(TypeError);
    expect(() => g.adopt(42 as never)).toThrow(/adopt\(\) wants an object/);
    expect(g.usage.resources).toBe(0);
  });

  it("starts a task spawned during its shutdown aborted, and leaves nothing registered", async () => {
    const log: string[] = [];
    const g = new ResourceGroup();
    const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The timer fires while shutdown waits for the slower finaliser registered after it.
    g.setTimeout(() => {
      void g.spawn(async (signal) => {
        log.push(`spawned, aborted=${signal.aborted}`);
        await tick(5);
      });
    }, 10);
    g.defer(async () => {
      await tick(40);
      log.push("slow finaliser done");
    });
    await g.shutdown();
    await tick(20);
    expect(log).toEqual(["spawned, aborted=true", "slow finaliser done"]);
    expect(g.usage.resources).toBe(0);
    expect(g.errors).toEqual([]);
  });

  it("contains the rejection of a task spawned after shutdown, as of one spawned before", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const g = new ResourceGroup();
      await g.shutdown();
      void g.spawn((signal) => Promise.reject(signal.reason)); // ignored by its caller
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("runs the rest newest first when the first and a middle finaliser ran early", async () => {
    const g = new ResourceGroup();
    const ran: string[] = [];
    const first = g.defer(() => void ran.push("first"));
    g.defer(() => void ran.push("second"));
    const third = g.defer(() => void ran.push("third"));
    g.defer(() => void ran.push("fourth"));
    await first();
    await third();
    g.defer(() => void ran.push("fifth"));
    await first(); // already ran: nothing
    expect(g.usage.resources).toBe(3);
    await g.shutdown();
    expect(ran).toEqual(["first", "third", "fifth", "fourth", "second"]);
  });

  it("keeps working after every resource it held was released early", async () => {
    const g = new ResourceGroup();
    const ran: string[] = [];
    const early = g.defer(() => void ran.push("early"));
    const t = g.setTimeout(() => ran.push("timer"), 60_000);
    t.clear();
    await early();
    expect(g.usage.resources).toBe(0);
    g.adopt({ close: () => void ran.push("later") });
    const stale = early; // a handle from before must not touch the new entry
    await stale();
    expect(g.usage.resources).toBe(1);
    await g.shutdown();
    expect(ran).toEqual(["early", "later"]);
  });

  it("is idempotent and aborts its signal with the reason", async () => {
    const g = new ResourceGroup();
    let closes = 0;
    g.defer(() => void closes++);
    const reason = new Error("stop");
    const p1 = g.shutdown(reason);
    const p2 = g.shutdown(new Error("other"));
    expect(p1).toBe(p2);
    await p1;
    expect(closes).toBe(1);
    expect(g.signal.aborted).toBe(true);
    expect(g.signal.reason).toBe(reason);
  });

  it("collects finaliser errors, reports them, and still runs every finaliser", async () => {
    const reported: unknown[] = [];
    const g = new ResourceGroup({ onError: (e) => reported.push(e) });
    const ran: number[] = [];
    g.defer(() => void ran.push(1));
    g.defer(() => {
      throw new Error("sync failure");
    });
    g.defer(() => Promise.reject(new Error("async failure")));
    g.defer(() => void ran.push(4));
    await g.shutdown();
    expect(ran).toEqual([4, 1]);
    expect(g.errors.map((e) => (e as Error).message)).toEqual(["async failure", "sync failure"]);
    expect(reported).toHaveLength(2);
  });

  it("clears its timers and intervals, and aborts spawned tasks, at shutdown", async () => {
    const g = new ResourceGroup();
    let ticks = 0;
    let fired = false;
    g.setInterval(() => ticks++, 5);
    g.setTimeout(() => (fired = true), 50);
    let taskSawAbort = false;
    const task = g.spawn(async (signal) => {
      await new Promise((r) => signal.addEventListener("abort", r));
      taskSawAbort = true;
    });
    await new Promise((r) => setTimeout(r, 22));
    expect(g.usage.resources).toBe(3);
    await g.shutdown();
    await task;
    const after = ticks;
    await new Promise((r) => setTimeout(r, 60));
    expect(ticks).toBe(after);
    expect(fired).toBe(false);
    expect(taskSawAbort).toBe(true);
    expect(g.usage.resources).toBe(0);
  });

  it("forgets a timer once it fired", async () => {
    const g = new ResourceGroup();
    g.setTimeout(() => {}, 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(g.usage.resources).toBe(0);
  });

  it("shuts itself down at its deadline and over its byte budget", async () => {
    const late = new ResourceGroup({ name: "late", deadline: 10 });
    await new Promise((r) => setTimeout(r, 30));
    expect(late.closed).toBe(true);
    expect((late.signal.reason as GroupShutdownError).kind).toBe("deadline");

    const parent = new ResourceGroup({ name: "parent" });
    const g = parent.child({ name: "budgeted", bytes: 100 });
    g.charge(60);
    expect(parent.usage.bytes).toBe(60);
    g.release(20);
    g.charge(50);
    expect(g.closed).toBe(false);
    g.charge(20);
    expect(g.closed).toBe(true);
    expect((g.signal.reason as GroupShutdownError).kind).toBe("budget");
    await g.shutdown();
    expect(parent.usage).toEqual({ groups: 1, resources: 0, bytes: 0 });
  });

  it("closes what is adopted after shutdown at once", async () => {
    const g = new ResourceGroup();
    await g.shutdown();
    let closed = false;
    g.adopt({ close: () => (closed = true) });
    await new Promise((r) => setTimeout(r, 0));
    expect(closed).toBe(true);
  });

  it("names the running group through ResourceGroup.current()", async () => {
    const g = new ResourceGroup({ name: "ctx" });
    expect(ResourceGroup.current()).toBeUndefined();
    const seen = await g.run(async () => {
      await new Promise((r) => setTimeout(r, 1));
      return ResourceGroup.current();
    });
    expect(seen).toBe(g);
  });

  it("works with await using", async () => {
    let closed = false;
    {
      await using g = new ResourceGroup();
      g.defer(() => (closed = true));
    }
    expect(closed).toBe(true);
  });
});
