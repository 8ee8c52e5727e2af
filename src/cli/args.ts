/**
 * The command line of `portico <dir>`, the file server: flags as
 * `deno run jsr:@std/http/file-server` and `npx serve` spell them.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The usage text, printed by `--help` and after a bad argument. */
export const USAGE: string = `usage: portico [dir] [options]

Serves the files under dir (default: the current directory) over HTTP.

  --port <n>         port to listen on (default 8000; 0 picks a free one)
  --host <name>      address to bind (default 127.0.0.1; 0.0.0.0 serves other machines)
  --cors             allow every origin (Access-Control-Allow-Origin: *)
  --no-dir-listing   answer 404 for a directory without index.html, instead of listing it
  --cert <file>      PEM certificate chain: serve HTTPS (needs --key)
  --key <file>       PEM private key of --cert
  --quiet            no access log
  -h, --help         this text`;

/** What the command line asks for. */
export interface CliOptions {
  /** The directory to serve, as given. */
  root: string;
  /** The port, 0–65535. */
  port: number;
  /** The address to bind. */
  hostname: string;
  /** Answer every origin's requests (CORS). */
  cors: boolean;
  /** List directories that have no index.html. */
  dirListing: boolean;
  /** Paths of the PEM certificate chain and key, for HTTPS. */
  tls: { certFile: string; keyFile: string } | null;
  /** Log one line per request. */
  log: boolean;
}

/** A command line that cannot be run: its message says why, in one line. */
export class UsageError extends Error {
  /** Always `"UsageError"`. */
  override name = "UsageError";
}

/**
 * Reads the command line (the arguments after the program), or throws a
 * {@link UsageError}. Returns `"help"` for `--help`.
 *
 * @example
 * ```ts
 * import { parseCliArgs } from "./args.ts";
 * parseCliArgs(["./public", "--port", "0", "--cors"]);
 * // { root: "./public", port: 0, hostname: "127.0.0.1", cors: true, dirListing: true, tls: null, log: true }
 * ```
 */
export function parseCliArgs(argv: string[]): CliOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        cors: { type: "boolean", default: false },
        "no-dir-listing": { type: "boolean", default: false },
        cert: { type: "string" },
        key: { type: "string" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length > 1) {
    throw new UsageError(`one directory, not ${positionals.length}: ${positionals.join(" ")}`);
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    throw new UsageError(`--port must be 0 to 65535, not "${values.port}"`);
  }
  if (values.host === "") throw new UsageError("--host must not be empty");
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError("--cert and --key go together: give both for HTTPS, or neither");
  }
  return {
    root: positionals[0] ?? ".",
    port,
    hostname: values.host,
    cors: values.cors,
    dirListing: !values["no-dir-listing"],
    tls: values.cert !== undefined ? { certFile: values.cert, keyFile: values.key! } : null,
    log: !values.quiet,
  };
}
