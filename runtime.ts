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
import zlib from "node:zlib";
import type { SocketAdapter } from "./src/adapter.ts";
import { type Platform, usePlatform } from "./src/platform.ts";
import type { WorkerLauncher } from "./src/workers/launcher.ts";

/** The part of Deno's API this module uses. */
interface DenoPermissions {
  permissions: { querySync(d: { name: "env"; variable: string }): { state: string } };
  env: { get(name: string): string | undefined };
}

function atLeast(version: string | undefined, major: number, minor: number): boolean {
  const [a, b] = (version ?? "0.0").split(".").map(Number);
  return a > major || (a === major && b >= minor);
}

// What each runtime's fetch() decodes, measured with one upstream sending
// each coding (Node 20's undici, Deno 2.9, Bun 1.4): Node every listed coding
// it knows, in turn (and nothing once one is unknown, `identity` included);
// Deno a single gzip or br; Bun a single coding of its five, `identity`
// entries aside. Anything else comes through coded, and keeps its field.
const codings = (field: string): string[] => field.toLowerCase().split(",").map((c) => c.trim());
const NODE_DECODES = new Set(["gzip", "x-gzip", "deflate", "br"]);
// undici 7.11 decodes zstd too, where zlib has it: Node 24 and 26 do (measured with an upstream sending it);
// Node 22 (undici 6) and 20 do not.
if (
  atLeast(process.versions.undici, 7, 11) &&
  typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === "function"
) {
  NODE_DECODES.add("zstd");
}
const DENO_DECODES = new Set(["gzip", "br"]);
const BUN_DECODES = new Set(["gzip", "x-gzip", "deflate", "br", "zstd"]);

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
  fetchDecodes: (field: string): boolean => DENO_DECODES.has(field.trim().toLowerCase()),
};

const bun: Platform = {
  name: "bun",
  env: (name: string): string | undefined => process.env[name],
  adapter: async (): Promise<SocketAdapter> => (await import("./adapters/bun.ts")).bunAdapter,
  launcher: async (): Promise<WorkerLauncher> => (await import("./adapters/bun_workers.ts")).bunLauncher(),
  fetchDecodes: (field: string): boolean => {
    const coded = codings(field).filter((c) => c !== "identity" && c !== ""); // empty list entries are skipped too
    return coded.length === 1 && BUN_DECODES.has(coded[0]);
  },
};

const node: Platform = {
  name: "node",
  env: (name: string): string | undefined => process.env[name],
  adapter: async (): Promise<SocketAdapter> => (await import("./adapters/node.ts")).nodeAdapter,
  launcher: async (): Promise<WorkerLauncher> => (await import("./adapters/node_cluster.ts")).clusterLauncher,
  fetchDecodes: (field: string): boolean => codings(field).every((c) => NODE_DECODES.has(c)),
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
