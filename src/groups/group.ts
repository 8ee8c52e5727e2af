/**
 * ResourceGroup: Racket's custodian, in JavaScript.
 *
 * A group owns resources — sockets, file handles, timers, tasks, child
 * groups — and closes all of them when it shuts down. The server is one tree
 * of groups: root → one group per connection → one group per request.
 *
 * What is guaranteed:
 * - `shutdown()` is idempotent and returns the same promise every time.
 * - Children shut down first (concurrently), then the group's own resources
 *   in reverse order of adoption, each finaliser awaited before the next.
 * - A finaliser that throws or rejects does not stop the others; its error
 *   is collected in `errors` and reported to `onError` (inherited from the
 *   parent; the root's default logs with `console.error`).
 * - Anything adopted after shutdown began is closed at once; a task spawned
 *   then starts with its signal aborted, and shutdown does not wait for it.
 *
 * What is not: a group cannot stop code that ignores its `signal`, and its
 * byte budget counts only what is charged to it — the server charges the
 * bytes it buffers for a connection; JavaScript offers no way to weigh an
 * arbitrary object graph.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";
import { timerCanWait } from "../timer.ts";

/** Anything a group can close: `close()`, `[Symbol.dispose]` or `[Symbol.asyncDispose]`. */
export type Closeable =
  | { close(): unknown }
  | { [Symbol.dispose](): void }
  | { [Symbol.asyncDispose](): PromiseLike<void> };

/** Options for a new group. */
export interface ResourceGroupOptions {
  /** The owning group: it shuts this one down when it shuts down. */
  parent?: ResourceGroup | null;
  /** A name for errors and debugging ("conn 42", "request GET /"). */
  name?: string;
  /** Milliseconds from now after which the group shuts itself down. */
  deadline?: number;
  /** Byte budget: charging beyond it shuts the group down. */
  bytes?: number;
  /** Receives finaliser errors; default: the parent's, or `console.error` at the root. */
  onError?: (error: unknown, group: ResourceGroup) => void;
}

/** Why a group shut itself down. */
export class GroupShutdownError extends Error {
  /** "deadline", "budget" or "parent". */
  readonly kind: "deadline" | "budget" | "parent";
  /** Creates the error for a group named `group`. */
  constructor(kind: "deadline" | "budget" | "parent", group: string, detail: string) {
    super(`${group}: ${detail}`);
    this.name = "GroupShutdownError";
    this.kind = kind;
  }
}

/** A snapshot of what a group holds, its subtree included. */
export interface GroupUsage {
  /** Live groups in the subtree, this one included. */
  groups: number;
  /** Resources, finalisers, timers and tasks not yet closed. */
  resources: number;
  /** Bytes charged and not released. */
  bytes: number;
}

// A finaliser, or a resource adopted as it is (no closure around it: a
// connection's group holds one, and a closure and its context cost ~100
// bytes per idle connection).
type Entry = (() => unknown) | Closeable;

/** Something that can name the current group lazily (a request builds its group on first use). */
export interface GroupHolder {
  /** The group. */
  readonly group: ResourceGroup;
}

const storage = new AsyncLocalStorage<GroupHolder>();
// Async context tracking costs on every request (about 2 µs on Deno), so it
// starts only once something asks for the current group. Until then the
// holder of the synchronously running handler is kept in a variable.
let tracking = false;
let syncHolder: GroupHolder | undefined;

/**
 * Calls `fn(a, b)` with `holder.group` as {@link ResourceGroup.current},
 * without building the group unless someone asks for it. The arguments are
 * passed through, not closed over: the server calls it for every request,
 * and a closure per call was an allocation per request.
 */
export function runWithGroup<A, B, T>(holder: GroupHolder, fn: (a: A, b: B) => T, a: A, b: B): T {
  if (tracking) return storage.run(holder, fn, a, b);
  const outer = syncHolder;
  syncHolder = holder;
  try {
    return fn(a, b);
  } finally {
    syncHolder = outer;
  }
}

/**
 * Owns resources and closes them together. See the module docs for the
 * guarantees.
 *
 * @example
 * ```ts
 * import { ResourceGroup } from "portico";
 * const g = new ResourceGroup({ name: "job", deadline: 10_000 });
 * g.setInterval(() => console.log("tick"), 1000);
 * g.defer(() => console.log("cleaned up"));
 * await g.shutdown();   // the interval stops, then "cleaned up" prints
 * ```
 */
export class ResourceGroup implements AsyncDisposable {
  /** The group's name. */
  readonly name: string;
  /** The owning group, or null for a root. */
  readonly parent: ResourceGroup | null;
  #errors: unknown[] | null = null;
  // Adopted resources and finalisers, oldest first: the first in a field of
  // its own (index 0), the rest in an array built on the second (index k at
  // k - 1). Most groups hold one or none: a connection's group holds its
  // connection, and a one-element array cost each idle connection ~60 bytes.
  #first: Entry | null = null;
  #entries: (Entry | null)[] | null = null;
  #live = 0;
  #children: Set<ResourceGroup> | null = null;
  #controller: AbortController | null = null;
  #reason: unknown = undefined;
  #shutdown: Promise<void> | null = null;
  #budget: number;
  #bytes = 0;
  #deadline: ReturnType<typeof setTimeout> | null = null;
  #onError: ((error: unknown, group: ResourceGroup) => void) | undefined;

  /** Creates a group, registered with its parent when it has one. */
  constructor(options: ResourceGroupOptions = {}) {
    this.name = options.name ?? "group";
    this.parent = options.parent ?? null;
    this.#budget = options.bytes ?? Infinity;
    this.#onError = options.onError;
    if (this.parent) this.parent.#addChild(this);
    if (options.deadline !== undefined) this.setDeadline(options.deadline);
  }

  /**
   * The group of the code that is running (per request, in a server), like
   * `current-custodian`.
   *
   * Tracking the group across `await`s costs time on every request, so it
   * starts with the first call to `current()` (the handler that calls it
   * first keeps its group across its own awaits from there). Code whose very
   * first call comes after an `await` should call `ResourceGroup.current()`
   * once at startup.
   */
  static current(): ResourceGroup | undefined {
    if (!tracking) {
      tracking = true;
      // The handler asking first carries its group through its own awaits.
      if (syncHolder !== undefined) storage.enterWith(syncHolder);
    }
    return (storage.getStore() ?? syncHolder)?.group;
  }

  /** Errors thrown by finalisers during shutdown. */
  get errors(): unknown[] {
    return this.#errors ??= [];
  }

  /** The group itself, so that a group is its own {@link GroupHolder}. */
  get group(): ResourceGroup {
    return this;
  }

  /** Runs `fn` with this group as {@link ResourceGroup.current} (across awaits too). */
  run<T>(fn: () => T): T {
    tracking = true;
    return storage.run(this, fn);
  }

  /** Aborted when the group shuts down, with the shutdown reason. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#shutdown) this.#controller.abort(this.#why());
    }
    return this.#controller.signal;
  }

  /** True once shutdown has begun. */
  get closed(): boolean {
    return this.#shutdown !== null;
  }

  /** Takes ownership of `resource`: it is closed when the group shuts down. Returns it. */
  adopt<T extends Closeable>(resource: T): T {
    // Checked here, where the mistake is: null in the list means a removed
    // entry, and anything but an object cannot be closed.
    if (resource === null || (typeof resource !== "object" && typeof resource !== "function")) {
      throw new TypeError(`adopt() wants an object to close, got ${resource === null ? "null" : typeof resource}`);
    }
    // A function is kept behind a closure: entries that are functions are
    // called, not closed.
    if (typeof resource === "function") this.defer(() => closeResource(resource));
    else if (this.#shutdown) void this.#runOne(resource);
    else this.#push(resource);
    return resource;
  }

  #push(entry: Entry): number {
    this.#live++;
    if (this.#first === null && this.#entries === null) {
      this.#first = entry;
      return 0;
    }
    if (this.#entries === null) {
      this.#entries = [entry];
      return 1;
    }
    return this.#entries.push(entry);
  }

  #at(index: number): Entry | null | undefined {
    return index === 0 ? this.#first : this.#entries?.[index - 1];
  }

  #clear(index: number): void {
    if (index === 0) this.#first = null;
    else this.#entries![index - 1] = null;
  }

  /** Registers a finaliser. Returns a function that runs it early and unregisters it. */
  defer(fn: () => unknown): () => Promise<void> {
    if (this.#shutdown) {
      void this.#runOne(fn);
      return () => Promise.resolve();
    }
    const index = this.#push(fn);
    return () => {
      if (this.#at(index) !== fn) return Promise.resolve();
      this.#clear(index);
      this.#live--;
      return this.#runOne(fn);
    };
  }

  /** Forgets a finaliser without running it (see `defer`'s return for running it). */
  #forget(index: number, fn: Entry): void {
    if (this.#at(index) === fn) {
      this.#clear(index);
      this.#live--;
      if (this.#live === 0) this.#entries = null;
    }
  }

  /**
   * Starts a task that is aborted when the group shuts down. Shutdown waits
   * for the task to settle after aborting it. A task spawned once shutdown
   * has begun starts with its signal aborted, and is not waited for.
   */
  spawn<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.signal;
    if (this.#shutdown) {
      const late = this.run(() => fn(signal));
      late.then(ignore, ignore); // contained, as a registered task's rejection is
      return late;
    }
    let done: () => void = () => {};
    const settled = new Promise<void>((r) => (done = r));
    const entry = () => settled;
    const index = this.#push(entry);
    const task = this.run(() => fn(signal));
    task.then(done, done).then(() => this.#forget(index, entry));
    return task;
  }

  /** A timer owned by the group: cleared at shutdown, forgotten once it fired. */
  setTimeout(fn: () => void, ms: number): { clear(): void } {
    let index = -1;
    const entry = () => clearTimeout(t);
    const t = setTimeout(() => {
      this.#forget(index, entry);
      fn();
    }, ms);
    if (this.#shutdown) {
      clearTimeout(t);
      return { clear() {} };
    }
    index = this.#push(entry);
    return {
      clear: () => {
        clearTimeout(t);
        this.#forget(index, entry);
      },
    };
  }

  /** An interval owned by the group: cleared at shutdown. */
  setInterval(fn: () => void, ms: number): { clear(): void } {
    const t = setInterval(fn, ms);
    if (this.#shutdown) {
      clearInterval(t);
      return { clear() {} };
    }
    const entry = () => clearInterval(t);
    const index = this.#push(entry);
    return {
      clear: () => {
        clearInterval(t);
        this.#forget(index, entry);
      },
    };
  }

  /** (Re)sets the deadline: the group shuts down `ms` from now. `Infinity` clears it. */
  setDeadline(ms: number): void {
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = null;
    if (!timerCanWait(ms) || this.#shutdown) return; // Infinity, or longer than a timer can wait (it would fire at once)
    this.#deadline = setTimeout(() => {
      void this.shutdown(new GroupShutdownError("deadline", this.name, `deadline of ${ms} ms passed`));
    }, ms);
    this.#deadline.unref?.();
  }

  /** Creates a sub-group; shutting this group down shuts it down first. */
  child(options: Omit<ResourceGroupOptions, "parent"> = {}): ResourceGroup {
    return new ResourceGroup({ ...options, parent: this });
  }

  /** Counts `n` bytes against the budget; over budget, the group shuts down. */
  charge(n: number): void {
    this.#bytes += n;
    if (this.#bytes > this.#budget && !this.#shutdown) {
      void this.shutdown(new GroupShutdownError("budget", this.name, `byte budget of ${this.#budget} exceeded`));
    }
    this.parent?.charge(n);
  }

  /** Returns `n` previously charged bytes. */
  release(n: number): void {
    this.#bytes -= n;
    this.parent?.release(n);
  }

  /** What the group and its subtree hold now. */
  get usage(): GroupUsage {
    let groups = 1;
    let resources = this.#live;
    if (this.#children) {
      for (const c of this.#children) {
        const u = c.usage;
        groups += u.groups;
        resources += u.resources;
      }
    }
    return { groups, resources, bytes: this.#bytes };
  }

  /**
   * Closes everything the group owns: children first (concurrently), then
   * its own resources in reverse order of adoption. Idempotent.
   */
  shutdown(reason?: unknown): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    // The default reason is built when someone sees it (a signal, a child):
    // an Error with its stack on every request's end cost ~8 µs on Node.
    this.#reason = reason;
    let resolve!: () => void;
    this.#shutdown = new Promise<void>((r) => (resolve = r));
    if (this.#deadline) clearTimeout(this.#deadline);
    if (this.#controller) this.#controller.abort(this.#why());
    void this.#close().then(resolve);
    return this.#shutdown;
  }

  // Why the group was shut down: the reason given, or one that says so.
  #why(): unknown {
    return this.#reason ??= new GroupShutdownError("parent", this.name, "shut down");
  }

  async #close(): Promise<void> {
    // Finalisers never run inside the caller of shutdown(): callbacks already
    // queued (a response's `completed`, say) see the group still open.
    await null;
    if (this.#children) {
      const children = [...this.#children];
      const why = this.#why();
      await Promise.all(children.map((c) => c.shutdown(why)));
    }
    // Entries adopted while these run (closed at once, see adopt) are not
    // added here: #shutdown is set.
    // Newest first; the first entry last.
    const entries = this.#entries;
    if (entries !== null) {
      for (let k = entries.length - 1; k >= 0; k--) {
        const entry = entries[k];
        if (entry === null) continue;
        entries[k] = null;
        this.#live--;
        await this.#runOne(entry);
      }
      this.#entries = null;
    }
    const first = this.#first;
    if (first !== null) {
      this.#first = null;
      this.#live--;
      await this.#runOne(first);
    }
    if (this.parent) this.parent.#removeChild(this);
    if (this.#bytes !== 0 && this.parent) this.parent.release(this.#bytes);
    this.#bytes = 0;
  }

  async #runOne(entry: Entry): Promise<void> {
    try {
      await (typeof entry === "function" ? entry() : closeResource(entry));
    } catch (error) {
      this.errors.push(error);
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    for (let g: ResourceGroup | null = this as ResourceGroup; g; g = g.parent) {
      if (g.#onError) {
        try {
          g.#onError(error, this);
        } catch (e) {
          console.error(e);
        }
        return;
      }
    }
    console.error(`portico: error while shutting down ${this.name}:`, error);
  }

  #addChild(child: ResourceGroup): void {
    if (this.#shutdown) {
      void child.shutdown(this.#why());
      return;
    }
    (this.#children ??= new Set()).add(child);
  }

  #removeChild(child: ResourceGroup): void {
    this.#children?.delete(child);
  }

  /** Same as `shutdown()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

function ignore(): void {}

function closeResource(r: Closeable): unknown {
  if (Symbol.asyncDispose in r && typeof r[Symbol.asyncDispose] === "function") return r[Symbol.asyncDispose]();
  if (Symbol.dispose in r && typeof r[Symbol.dispose] === "function") return r[Symbol.dispose]();
  return (r as { close(): unknown }).close();
}
