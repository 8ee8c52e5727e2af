/**
 * The seam between the portable core and the runtime it runs on: what `serve()`,
 * `supervise()` and `workerId()` need from the runtime, and nothing else.
 *
 * The core never asks which runtime it is on. One function outside `src/`
 * (`detectPlatform()` in `runtime.ts`, at the package root) chooses the
 * runtime's platform, and loading `runtime.ts` binds it here with
 * {@link usePlatform}; the core reads it back with {@link platform}. Every
 * package entry whose code can reach this seam imports `runtime.ts` (directly,
 * or through `src/mod.ts`); test/layout.test.ts checks it. So nothing in the
 * core imports the runtime-specific code in `adapters/`, and that code is
 * loaded only on the runtime it is for.
 *
 * @module
 */

import process from "node:process";
import type { SocketAdapter } from "./adapter.ts";
import type { WorkerLauncher } from "./workers/launcher.ts";

/** What the core needs from the runtime it runs on. */
export interface Platform {
  /** The runtime's name, for messages: `"node"`, `"deno"`, `"bun"`. */
  readonly name: string;
  /**
   * An environment variable, or `undefined` when it is unset or cannot be read
   * without asking for a permission (Deno without `--allow-env`). Never throws
   * and never prompts: `serve()` reads the worker id through this, and a
   * server must run with `--allow-net` alone.
   */
  env(name: string): string | undefined;
  /** The runtime's socket adapter, loaded on first use. */
  adapter(): Promise<SocketAdapter>;
  /** The runtime's default worker launcher, loaded on first use. */
  launcher(): Promise<WorkerLauncher>;
  /**
   * Whether the runtime's `fetch()` decodes a body whose response says
   * `Content-Encoding: coding` (the field as received, which fetch keeps):
   * the server then sends such a response without it. Each runtime decodes
   * its own set. Absent: never (the response goes out as it is).
   */
  fetchDecodes?(coding: string): boolean;
}

const unbound: Platform = {
  name: "unknown",
  env(name: string): string | undefined {
    try {
      return process.env[name];
    } catch {
      return undefined; // a permission system said no
    }
  },
  adapter(): Promise<SocketAdapter> {
    return Promise.reject(
      new Error(
        "portico: no runtime is bound, so serve() has no socket adapter: import portico from its entry " +
          '("portico", "jsr:@portico/portico", src/mod.ts or mod.ts), or pass `adapter`',
      ),
    );
  },
  launcher(): Promise<WorkerLauncher> {
    return Promise.reject(
      new Error(
        "portico: no runtime is bound, so supervise() has no worker launcher: import portico from its entry, " +
          "or pass `launcher`",
      ),
    );
  },
};

let current: Platform = unbound;

/**
 * Binds the platform the core runs on. The package entry calls it once, with
 * the platform `detectPlatform()` chose; call it yourself only to run the core
 * on a runtime portico does not know.
 *
 * @example
 * ```ts
 * import { usePlatform } from "./platform.ts";
 * import type { SocketAdapter } from "./adapter.ts";
 * declare const myAdapter: SocketAdapter; // sockets of some other runtime
 * usePlatform({
 *   name: "other",
 *   env: () => undefined,
 *   adapter: () => Promise.resolve(myAdapter),
 *   launcher: () => Promise.reject(new Error("no processes here")),
 * });
 * ```
 */
export function usePlatform(p: Platform): void {
  current = p;
}

/**
 * The platform bound by the entry (or one whose adapter and launcher reject
 * with a clear error, when none is).
 *
 * @example
 * ```ts
 * import { platform } from "./platform.ts";
 * const adapter = await platform().adapter();
 * ```
 */
export function platform(): Platform {
  return current;
}
