/**
 * A static file server for the directory given on the command line, the
 * same program on all three runtimes:
 *
 *   node dist/examples/fileserver.js ./public          (after `npm run build`)
 *   deno run -A examples/fileserver.ts ./public
 *   bun examples/fileserver.ts ./public
 *
 * Options: --port <n> (default: env PORT, else 8000; 0 picks a free port),
 * --host <name> (default 127.0.0.1: a file server should be exposed on
 * purpose), --no-listing, --dotfiles allow|deny|ignore (default deny),
 * --quiet (no request log).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { serve } from "portico";
import { type Dotfiles, serveDir } from "portico/static";

const usage =
  "usage: fileserver <dir> [--port n] [--host name] [--no-listing] [--dotfiles allow|deny|ignore] [--quiet]";

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      "no-listing": { type: "boolean", default: false },
      dotfiles: { type: "string", default: "deny" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help || positionals.length !== 1) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
const dotfiles = values.dotfiles as Dotfiles;
if (!["allow", "deny", "ignore"].includes(dotfiles)) {
  console.error(`--dotfiles must be allow, deny or ignore\n${usage}`);
  process.exit(2);
}
const port = Number(values.port ?? process.env.PORT ?? 8000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`bad port ${values.port}\n${usage}`);
  process.exit(2);
}

const files = serveDir({ root: positionals[0], listing: !values["no-listing"], dotfiles });

const server = serve({
  port,
  hostname: values.host,
  async fetch(request, info) {
    const response = await files(request, info);
    if (!values.quiet) console.log(`${response.status} ${request.method} ${new URL(request.url).pathname}`);
    return response;
  },
});

// Ctrl-C and `kill` finish the downloads in flight, then exit.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.shutdown().then(() => process.exit(0), () => process.exit(1));
  });
}
