/**
 * The command line of the tutorial programs (tutorial.ts, cluster.ts), read
 * as the other examples read theirs: `--port <n>` (default: env PORT, else
 * 8000; 0 picks a free port), `--host <name>` (default 127.0.0.1: expose a
 * server on purpose, with `--host 0.0.0.0`), `--help`. Bad arguments print
 * the usage and exit with status 2.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";

/** Where to listen. */
export interface ListenArgs {
  /** The port, 0–65535. */
  port: number;
  /** The address to bind. */
  hostname: string;
}

/**
 * Reads `--port` and `--host` from `process.argv`, or exits with the usage.
 *
 * @example
 * ```ts
 * import { listenArgs } from "./tutorial_args.ts";
 * const { port, hostname } = listenArgs("tutorial");
 * ```
 */
export function listenArgs(program: string): ListenArgs {
  const usage = `usage: ${program} [--port n] [--host name]`;
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        port: { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const text = values.port ?? process.env.PORT ?? "8000";
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    console.error(`bad port ${text}\n${usage}`);
    process.exit(2);
  }
  return { port, hostname: values.host };
}
