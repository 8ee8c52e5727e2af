/**
 * One connection to a Redis/Valkey store per URL (and timeout) in a
 * process, shared by every `redisManager` that names it, with a deadline on
 * every command.
 *
 * Failure handling, and why: the client's offline queue is off, so a
 * command never waits in a queue for a store that is down; before the first
 * connection (and while a reconnect is under way after a clean close) a
 * command waits for the connection within its deadline (at least 5 s for
 * the very first connection, a cold start); once an error says the store
 * is down, commands fail at once until it is back. The client
 * reconnects by itself (back-off 50 ms doubling, at most 500 ms). Its
 * "error" events — one per failed attempt — are logged once per outage.
 *
 * @module
 */

import { createClient, type RedisClientType } from "redis";
import { clearTimeout, setTimeout } from "node:timers";
import { ContinuationStoreError } from "../continuations/manager.ts";

/** The `redis` package's client, as `createClient` types it for our options. */
// deno-lint-ignore ban-types
export type Client = RedisClientType<{}, {}, {}, 3, {}>;

function newClient(url: string, timeout: number): Client {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeout,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500),
    },
  });
}

const shared = new Map<string, StoreConnection>();
/** The deadline of commands before a process's first connection to a store is ready, in ms. */
const FIRST_CONNECT_MS = 5000;

/** A shared, reference-counted connection to one store. */
export class StoreConnection {
  /** The store's URL with its password hidden, for messages. */
  readonly name: string;
  readonly #key: string;
  readonly #url: string;
  readonly #timeout: number;
  #client: Client | null = null;
  #refs = 0;
  #down = false;
  #everReady = false;
  #ready: Promise<void> | null = null;

  private constructor(key: string, url: string, timeout: number) {
    this.#key = key;
    this.#url = url;
    this.#timeout = timeout;
    this.name = redact(url);
  }

  /** The connection for `url` (made on first use), with one more reference. */
  static acquire(url: string, timeout: number): StoreConnection {
    const key = `${timeout} ${url}`;
    let c = shared.get(key);
    if (!c) shared.set(key, c = new StoreConnection(key, url, timeout));
    c.#refs++;
    return c;
  }

  /** Drops a reference; the last one closes the connection. */
  release(): void {
    if (--this.#refs > 0) return;
    shared.delete(this.#key);
    const client = this.#client;
    this.#client = null;
    this.#ready = null;
    client?.destroy();
  }

  /** Runs `fn` within the deadline; every failure becomes a {@link ContinuationStoreError} (503). */
  async run<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    if (this.#refs <= 0) throw new ContinuationStoreError(`cannot ${what}: the continuation manager is closed`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The very first connection of a process gets longer (a cold start: a
    // runtime loading the client's modules, a TLS handshake) unless the
    // store is known to be down, in which case commands fail at once anyway.
    const ms = this.#everReady ? this.#timeout : Math.max(this.#timeout, FIRST_CONNECT_MS);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ContinuationStoreError(`cannot ${what}: ${this.name} did not answer within ${ms} ms`)),
        ms,
      );
    });
    const work = this.#connected().then(fn);
    work.catch(() => {}); // it may settle after the deadline
    try {
      return await Promise.race([work, deadline]);
    } catch (e) {
      if (e instanceof ContinuationStoreError) throw e;
      throw new ContinuationStoreError(`cannot ${what}: ${this.name}: ${(e as Error)?.message ?? String(e)}`, {
        cause: e,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  // The client once it is ready. Known down: fail now rather than wait;
  // and the commands waiting for a first connection fail as soon as it is
  // refused, rather than at their deadline (5 s on a process's first).
  #connected(): Promise<Client> {
    const client = this.#client ?? this.#connect();
    if (client.isReady) return Promise.resolve(client);
    if (this.#down) return Promise.reject(new Error("the store is down; reconnecting"));
    return (this.#ready ??= new Promise<void>((resolve, reject) => {
      const settle = (e?: Error) => {
        client.off("ready", settle);
        client.off("error", settle);
        if (this.#client === client) this.#ready = null;
        if (e === undefined) resolve();
        else reject(e);
      };
      client.on("ready", settle);
      client.on("error", settle);
    })).then(() => client);
  }

  #connect(): Client {
    const client = this.#client = newClient(this.#url, this.#timeout);
    client.on("error", (e: Error) => {
      if (this.#down || this.#client !== client) return;
      this.#down = true;
      console.error(
        `portico: the continuation store ${this.name} is unreachable (${e.message}); ` +
          "servlet requests answer 503 until it is back",
      );
    });
    client.on("ready", () => {
      this.#everReady = true;
      if (!this.#down) return;
      this.#down = false;
      console.error(`portico: the continuation store ${this.name} is reachable again`);
    });
    // connect() retries until the store answers; failures show as "error"
    // events above, and commands fail (or wait, within their deadline) meanwhile.
    client.connect().catch(() => {});
    return client;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.href.replace(/\/$/, "");
  } catch {
    return "the configured store";
  }
}
