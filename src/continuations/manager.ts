/**
 * Continuation managers: what is kept, for how long, and what happens when
 * something is dropped.
 *
 * A servlet instance (one session: a start and everything resumed from it)
 * owns a ResourceGroup. When the manager drops the instance's last
 * continuation and no run of it is in progress, the group shuts down, so the
 * timers and files the servlet adopted into it are closed.
 *
 * @module
 */

import type { ResourceGroup } from "../groups/group.ts";
import { clearInterval, setInterval } from "node:timers";
import type { Entry } from "./log.ts";

/** A run parked at a continuation, waiting for its k-URL (the one-shot fast path). */
export interface Parked {
  /** The k-URL's request arrived: continue the run, answering through `respond`. */
  resume(request: Request, respond: Responder, dispatch: number | undefined): void;
  /** The continuation was dropped: unwind the run. */
  expire(): void;
}

/** Where a run sends the response to the request it is answering. */
export interface Responder {
  /** Answers the request. */
  resolve(response: Response): void;
  /** Fails the request (the server answers 500 through onError). */
  reject(error: unknown): void;
}

/** One servlet session. */
export class Instance {
  /** 128-bit random id. */
  readonly id: string;
  /** Resources of the session; shut down once it has no continuation and no run. */
  readonly group: ResourceGroup;
  /** Continuations of this instance the manager holds. */
  readonly continuations: Set<Continuation> = new Set();
  /** Runs in progress (live or parked). */
  runs = 0;

  /** Creates an instance whose group is a child of `parent`. */
  constructor(id: string, parent: ResourceGroup) {
    this.id = id;
    this.group = parent.child({ name: `servlet instance ${id}` });
  }

  /** Shuts the group down if nothing can use the instance any more. */
  closeIfIdle(): void {
    if (this.runs === 0 && this.continuations.size === 0) void this.group.shutdown();
  }
}

/** A suspended point of a servlet run: the log of inputs that leads to it. */
export interface Continuation {
  /** 128-bit random id, the k-URL's path segment. */
  readonly id: string;
  /** The session it belongs to. */
  readonly instance: Instance;
  /** The inputs from the start to this point. */
  readonly log: Entry[];
  /** What the log counts as against the byte budget. */
  readonly bytes: number;
  /** Epoch ms after which it is expired. */
  expires: number;
  /** Made by `sendSuspendDispatch`: its URLs carry an embedded-handler index. */
  readonly dispatch: boolean;
  /** How many embedded URLs its page made (dispatch only). */
  embeds: number;
  /**
   * The live run waiting here, if any (the servlet's own business).
   *
   * @ignore
   */
  park: Parked | null;
}

/**
 * Decides which continuations are kept.
 *
 * A manager in memory answers synchronously. One backed by a store shared
 * by processes (`redisManager`) returns promises; the servlet awaits them
 * before it answers, and a promise that rejects with a
 * {@link ContinuationStoreError} answers the request with 503.
 */
export interface ContinuationManager {
  /** Continuations held (in this process). */
  readonly size: number;
  /** Bytes of the logs held (in this process). */
  readonly bytes: number;
  /** The time-to-live given to new continuations, in ms. */
  readonly ttl: number;
  /** Stores `k`; may drop others to stay within budget. The page linking to `k` is sent once this settles. */
  add(k: Continuation): void | Promise<void>;
  /**
   * The live continuation with this id, or undefined (unknown, evicted or
   * expired). A shared store that finds one this process does not hold
   * makes it under `instanceOf(itsInstanceId)`, with no parked run.
   */
  get(
    id: string,
    instanceOf?: (instanceId: string) => Instance,
  ): Continuation | undefined | Promise<Continuation | undefined>;
  /** Drops every continuation of `instance` (`sendForward`, `sendFinish`). */
  dropInstance(instance: Instance): void | Promise<void>;
  /** Drops everything and stops the manager's timer (and closes its store connection). */
  close(): void | Promise<void>;
}

/**
 * A continuation store could not be reached in time: the request gets 503
 * with this message, and nothing is lost but that request.
 *
 * @example
 * ```ts
 * import { ContinuationStoreError } from "portico/continuations";
 * const e = new ContinuationStoreError("redis at 127.0.0.1:6379 did not answer within 1000 ms");
 * e.status; // 503
 * ```
 */
export class ContinuationStoreError extends Error {
  /** The status the request gets: 503. */
  readonly status: number = 503;
  /** Describes what failed; `cause` is the store client's error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ContinuationStoreError";
  }
}

/** Budgets of {@link lruManager}. */
export interface LruOptions {
  /** Most continuations kept. Default 10 000. */
  maxCount?: number;
  /** Most log bytes kept. Default 64 MiB. */
  maxBytes?: number;
  /** Time-to-live of each continuation from its creation, in ms. Default 30 minutes. */
  ttl?: number;
}

function drop(k: Continuation): void {
  k.instance.continuations.delete(k);
  const park = k.park;
  k.park = null;
  park?.expire();
  k.instance.closeIfIdle();
}

class LruManager implements ContinuationManager {
  readonly ttl: number;
  #map = new Map<string, Continuation>();
  #bytes = 0;
  #maxCount: number;
  #maxBytes: number;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: LruOptions) {
    this.#maxCount = options.maxCount ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.ttl = options.ttl ?? 30 * 60_000;
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(k: Continuation): void {
    this.#map.set(k.id, k);
    this.#bytes += k.bytes;
    k.instance.continuations.add(k);
    // Oldest (least recently used) first: Map iterates in insertion order.
    for (const old of this.#map.values()) {
      if (this.#map.size <= this.#maxCount && this.#bytes <= this.#maxBytes) break;
      if (old === k) continue;
      this.#remove(old);
    }
    if (this.#timer === null && this.ttl !== Infinity) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(1000, Math.min(60_000, this.ttl / 4)));
      this.#timer.unref?.();
    }
  }

  get(id: string): Continuation | undefined {
    const k = this.#map.get(id);
    if (k === undefined) return undefined;
    if (Date.now() >= k.expires) {
      this.#remove(k);
      return undefined;
    }
    this.#map.delete(id);
    this.#map.set(id, k);
    return k;
  }

  dropInstance(instance: Instance): void {
    for (const k of [...instance.continuations]) this.#remove(k);
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const k of [...this.#map.values()]) this.#remove(k);
  }

  #remove(k: Continuation): void {
    if (this.#map.get(k.id) !== k) return;
    this.#map.delete(k.id);
    this.#bytes -= k.bytes;
    drop(k);
  }

  #sweep(): void {
    const now = Date.now();
    for (const k of [...this.#map.values()]) if (now >= k.expires) this.#remove(k);
    if (this.#map.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

/**
 * Keeps the most recently used continuations within a count and a byte
 * budget, each for at most `ttl` ms.
 *
 * @example
 * ```ts
 * import { lruManager, servlet } from "portico";
 * const app = servlet(async (web) => new Response("hi"), { manager: lruManager({ maxCount: 1000, ttl: 600_000 }) });
 * ```
 */
export function lruManager(options: LruOptions = {}): ContinuationManager {
  return new LruManager(options);
}

/**
 * Keeps nothing: every k-URL is expired at once. For servlets that never
 * suspend, or that run in stateless mode.
 *
 * @example
 * ```ts
 * import { noneManager, servlet } from "portico";
 * const hello = servlet(() => new Response("hello"), { manager: noneManager() });
 * ```
 */
export function noneManager(): ContinuationManager {
  return {
    size: 0,
    bytes: 0,
    ttl: 0,
    add: (k) => drop(k),
    get: () => undefined,
    dropInstance() {},
    close() {},
  };
}
