/**
 * `redisManager()`: continuations whose replay logs live in Redis or
 * Valkey, so that a k-URL resumes on any process — of any runtime, on any
 * machine — that shares the store, and after a restart.
 *
 * What is kept where. Each continuation is one string key,
 * `<prefix>k:<id>` = JSON { i: instance id, l: log, d: dispatch, e: embedded
 * links }, set with `PX ttl`, so Redis expires it on every process alike.
 * Each instance has a set `<prefix>i:<instance id>` of its continuation ids
 * (its expiry pushed to `ttl` at every add), which `sendForward` and
 * `sendFinish` use to drop the instance's continuations. The process that
 * made a continuation also keeps it in a local LRU with its parked run, the
 * one-shot fast path: when the store still has the key and this process
 * holds the parked run, the run continues without a replay. The store is
 * asked first, always, so a continuation dropped or expired elsewhere is
 * expired here too.
 *
 * Failure. Every command has a deadline (`timeout`); a store that is down
 * or slower than that makes the request answer 503 (a
 * {@link ContinuationStoreError}) — never a crash or a hang. Commands are
 * not queued while the connection is down (the client's offline queue is
 * off), and the client reconnects by itself with a capped back-off.
 *
 * @module
 */

import { type Client, StoreConnection } from "./connection.ts";
import {
  type Continuation,
  type ContinuationManager,
  ContinuationStoreError,
  type Instance,
  lruManager,
} from "../continuations/manager.ts";
import type { Entry } from "../continuations/log.ts";
import { HttpError } from "../http/errors.ts";

/** Options of {@link redisManager}. */
export interface RedisManagerOptions {
  /** The store, as a `redis://` or `rediss://` URL (user, password and database number included). */
  url: string;
  /** Time-to-live of each continuation from its creation, in ms; Redis expires it (`PX`). Default 30 minutes. */
  ttl?: number;
  /** Prefix of every key. Default "portico:". */
  prefix?: string;
  /**
   * The longest a request waits for the store, in ms (connecting included);
   * beyond it, 503. Default 1000.
   */
  timeout?: number;
  /** Largest replay log stored for one continuation (its JSON); beyond it, 413. Default 1 MiB. */
  maxLogBytes?: number;
  /** Most continuations this process keeps with their parked run (the fast path). Default 10 000. */
  maxLocal?: number;
}

interface Stored {
  i: string;
  l: Entry[];
  d: boolean;
  e: number;
}

class RedisManager implements ContinuationManager {
  readonly ttl: number;
  #prefix: string;
  #maxLogBytes: number;
  #local: ContinuationManager;
  #url: string;
  #timeout: number;
  #store: StoreConnection | null = null;
  #closed = false;
  // Instances alive in this process, by id: a session resumed here twice
  // shares one Instance (and its group).
  #instances = new Map<string, Instance>();

  constructor(options: RedisManagerOptions) {
    if (typeof options?.url !== "string") throw new TypeError("redisManager needs a url: redis://host:port");
    this.ttl = options.ttl ?? 30 * 60_000;
    if (!(this.ttl > 0 && Number.isFinite(this.ttl))) {
      throw new RangeError("redisManager: ttl must be a positive number of ms");
    }
    this.#prefix = options.prefix ?? "portico:";
    this.#maxLogBytes = options.maxLogBytes ?? 1024 * 1024;
    this.#local = lruManager({ maxCount: options.maxLocal ?? 10_000, ttl: this.ttl });
    this.#url = options.url;
    this.#timeout = options.timeout ?? 1000;
  }

  get size(): number {
    return this.#local.size;
  }

  get bytes(): number {
    return this.#local.bytes;
  }

  async add(k: Continuation): Promise<void> {
    const value = JSON.stringify({ i: k.instance.id, l: k.log, d: k.dispatch, e: k.embeds } satisfies Stored);
    if (value.length > this.#maxLogBytes) {
      throw new HttpError(
        "BODY_TOO_LARGE",
        `this session's input (${value.length} bytes) exceeds the continuation store's maxLogBytes (${this.#maxLogBytes})`,
      );
    }
    const set = this.#prefix + "i:" + k.instance.id;
    // Three single-key commands, pipelined, rather than a MULTI: the keys
    // may live on different nodes behind a cluster proxy.
    await this.#run("store a continuation", (c) =>
      Promise.all([
        c.set(this.#prefix + "k:" + k.id, value, { PX: Math.ceil(this.ttl) }),
        c.sAdd(set, k.id),
        c.pExpire(set, Math.ceil(this.ttl)),
      ]));
    this.#track(k.instance);
    this.#local.add(k);
  }

  async get(id: string, instanceOf?: (instanceId: string) => Instance): Promise<Continuation | undefined> {
    const text = await this.#run("look up a continuation", (c) => c.get(this.#prefix + "k:" + id));
    const local = this.#local.get(id) as Continuation | undefined;
    if (text === null) {
      // Gone from the store (expired, or dropped by another process): gone here too.
      if (local) this.#local.dropInstance(local.instance);
      return undefined;
    }
    if (local) return local;
    let stored: Stored;
    try {
      stored = JSON.parse(text) as Stored;
    } catch {
      return undefined; // not ours: someone else's key under our prefix
    }
    if (typeof stored?.i !== "string" || !Array.isArray(stored.l) || !instanceOf) return undefined;
    const instance = this.#instances.get(stored.i) ?? this.#track(instanceOf(stored.i));
    return {
      id,
      instance,
      log: stored.l,
      bytes: text.length,
      expires: Date.now() + this.ttl,
      dispatch: stored.d === true,
      embeds: typeof stored.e === "number" ? stored.e : 0,
      park: null,
    };
  }

  async dropInstance(instance: Instance): Promise<void> {
    const set = this.#prefix + "i:" + instance.id;
    this.#local.dropInstance(instance);
    await this.#run("drop a session", async (c) => {
      const ids = await c.sMembers(set);
      // One DEL per key rather than one for all: in a Redis Cluster the keys
      // may live in different slots.
      await Promise.all([...ids.map((id) => c.del(this.#prefix + "k:" + id)), c.del(set)]);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#local.close();
    this.#store?.release();
    this.#store = null;
  }

  #track(instance: Instance): Instance {
    if (this.#instances.get(instance.id) !== instance) {
      this.#instances.set(instance.id, instance);
      instance.group.defer(() => {
        if (this.#instances.get(instance.id) === instance) this.#instances.delete(instance.id);
      });
    }
    return instance;
  }

  // The connection is taken on first use (a servlet that never runs holds
  // none) and shared with every manager of this process naming the same store.
  #run<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new ContinuationStoreError(`cannot ${what}: the continuation manager is closed`));
    }
    this.#store ??= StoreConnection.acquire(this.#url, this.#timeout);
    return this.#store.run(what, fn);
  }
}

/**
 * A {@link ContinuationManager} that keeps each continuation's replay log in
 * Redis or Valkey, with the official `redis` client: any process sharing
 * the store resumes any k-URL, and Redis expires them (`PX ttl`). The back
 * button, windows and `sendForward` behave as with `lruManager`; a store
 * that is down or slower than `timeout` answers 503.
 *
 * @example
 * ```ts
 * import { Router, servlet } from "portico";
 * import { redisManager } from "portico/redis";
 * const router = new Router();
 * const manager = redisManager({ url: "redis://127.0.0.1:6379", ttl: 600_000, prefix: "portico:" });
 * router.mount("/sum2", servlet(async () => new Response("hi"), { manager }));
 * ```
 */
export function redisManager(options: RedisManagerOptions): ContinuationManager {
  return new RedisManager(options);
}
