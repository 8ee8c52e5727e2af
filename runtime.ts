/**
 * The one place that knows which runtime runs this program: {@link detectPlatform}
 * chooses, and loading this module binds its choice to the core
 * (`src/platform.ts`). The package entries (`src/mod.ts`, and through it
 * `mod.ts` and `src/cli.ts`) import this module for that effect; nothing else
 * asks whether `globalThis.Deno` or `globalThis.Bun` exists.
 *
 * Each runtime's adapter and worker launcher are imported on first use, so
 * that a runtime never loads another runtime's code.
 *
 * @module
 */

import process from "node:process";
import type { SocketAdapter } from "./src/adapter.ts";
import { type Platform, usePlatform } from "./src/platform.ts";
import type { WorkerLauncher } from "./src/workers/launcher.ts";

/** The part of Deno's API this module uses. */
interface DenoPermissions {
  permissions: { querySync(d: { name: "env"; variable: string }): { state: string } };
  env: { get(name: string): string | undefined };
}

const deno: Platform = {
  name: "deno",
  env(name: string): string | undefined {
    const d = (globalThis as unknown as { Deno: DenoPermissions }).Deno;
    try {
      // Reading a variable without --allow-env throws (NotCapable) when stdin
      // is not a terminal and asks the user when it is: look before reading.
      if (d.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
      return d.env.get(name);
    } catch {
      return undefined;
    }
  },
  adapter: async (): Promise<SocketAdapter> => (await import("./adapters/deno.ts")).denoAdapter,
  launcher: async (): Promise<WorkerLauncher> => (await import("./adapters/deno_workers.ts")).denoLauncher(),
};

const bun: Platform = {
  name: "bun",
  env: (name: string): string | undefined => process.env[name],
  adapter: async (): Promise<SocketAdapter> => (await import("./adapters/bun.ts")).bunAdapter,
  launcher: async (): Promise<WorkerLauncher> => (await import("./adapters/bun_workers.ts")).bunLauncher(),
};

const node: Platform = {
  name: "node",
  env: (name: string): string | undefined => process.env[name],
  adapter: async (): Promise<SocketAdapter> => (await import("./adapters/node.ts")).nodeAdapter,
  launcher: async (): Promise<WorkerLauncher> => (await import("./adapters/node_cluster.ts")).clusterLauncher,
};

/**
 * The platform of the runtime running this program: Deno, Bun, or else Node.
 *
 * @example
 * ```ts
 * import { detectPlatform } from "./runtime.ts";
 * console.log(detectPlatform().name); // "node", "deno" or "bun"
 * ```
 */
export function detectPlatform(): Platform {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return deno;
  if (g.Bun !== undefined) return bun;
  return node;
}

usePlatform(detectPlatform());
