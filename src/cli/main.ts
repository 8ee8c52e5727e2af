/**
 * `portico <dir>`: a static file server on the command line, the same
 * program under Node, Deno and Bun (`src/cli.ts` runs it).
 *
 * Under Deno it needs `--allow-net` and `--allow-read`, nothing more.
 *
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import process from "node:process";
import { knownBodySize } from "../server/light_response.ts";
import { serveDir } from "../static/serve_dir.ts";
import { serve } from "../serve.ts";
import { formatAddr, type NetAddr } from "../adapter.ts";
import type { Server } from "../types.ts";
import { accessLogLine } from "./access_log.ts";
import { type CliOptions, parseCliArgs, USAGE, UsageError } from "./args.ts";
import { withCors } from "./cors.ts";

/** Where the program writes: stdout for the log and the address, stderr for errors. */
export interface CliOutput {
  /** A line for stdout. */
  out(line: string): void;
  /** A line for stderr. */
  err(line: string): void;
}

const console_: CliOutput = { out: (l) => console.log(l), err: (l) => console.error(l) };

/**
 * Runs the file server for `argv` (the arguments after the program name).
 * Resolves with the server once it listens, or with an exit status when
 * there is nothing to run: 0 after `--help`, 2 for a bad command line, 1
 * when the directory, the certificate or the port cannot be used (each
 * reported in one line on stderr).
 *
 * @example
 * ```ts
 * import { runFileServer } from "./main.ts";
 * const result = await runFileServer(["./public", "--port", "0"]);
 * if (typeof result !== "number") await result.shutdown();
 * ```
 */
export async function runFileServer(argv: string[], io: CliOutput = console_): Promise<Server | number> {
  let options: CliOptions | "help";
  try {
    options = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`portico: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    io.out(USAGE);
    return 0;
  }
  const root = resolve(options.root);
  try {
    if (!(await stat(root)).isDirectory()) {
      io.err(`portico: ${options.root} is not a directory`);
      return 1;
    }
  } catch (error) {
    io.err(`portico: cannot serve ${options.root}: ${(error as { code?: string }).code ?? error}`);
    return 1;
  }
  let tls: { cert: string; key: string } | undefined;
  if (options.tls) {
    try {
      tls = { cert: await readFile(options.tls.certFile, "utf8"), key: await readFile(options.tls.keyFile, "utf8") };
    } catch (error) {
      io.err(`portico: cannot read --cert/--key: ${(error as Error).message}`);
      return 1;
    }
  }

  const files = serveDir({ root, listing: options.dirListing });
  const handler = options.cors ? withCors(files) : files;
  const log = options.log;
  const scheme = tls ? "https" : "http";
  let listening!: (ok: boolean) => void;
  const listened = new Promise<boolean>((r) => (listening = r));
  const server = serve({
    port: options.port,
    hostname: options.hostname,
    tls,
    onListen: (addr: NetAddr) => {
      io.out(`portico: serving ${root} on ${scheme}://${hostPort(addr)}/`);
      listening(true);
    },
    fetch: async (request, info) => {
      const began = performance.now();
      const response = await handler(request, info);
      if (log) {
        // The size sent as Content-Length: a string or bytes body's own
        // (a lightweight response does not list it among its headers), or the field.
        const length = knownBodySize(response)?.toString() ?? response.headers.get("content-length");
        const done = () => {
          const url = request.url;
          const target = url.slice(url.indexOf("/", url.indexOf("//") + 2));
          io.out(accessLogLine(
            new Date(),
            info.remoteAddr.hostname,
            request.method,
            target,
            response.status,
            length === null ? null : Number(length),
            performance.now() - began,
          ));
        };
        info.completed.then(done, done);
      }
      return response;
    },
  });
  // ready() rejects with a one-line error that names the address already.
  server.ready().catch((error) => {
    io.err(error instanceof Error ? error.message : String(error));
    listening(false);
  });
  if (!(await listened)) return 1;

  // Ctrl-C and `kill` let the downloads in flight finish, then the process
  // exits by itself, with status 0. A repeated signal is ignored rather than
  // left to its default action: under npx, Ctrl-C reaches the server twice
  // (from the terminal, and forwarded by npm). The shutdown is bounded.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void server.shutdown().finally(() => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return server;
}

function hostPort(addr: NetAddr): string {
  return formatAddr(addr);
}
