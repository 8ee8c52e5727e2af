/**
 * The tutorial app on all cores: a supervisor runs one worker per CPU on one
 * port, restarts the ones that die, and stops them gracefully on SIGTERM or
 * Ctrl-C. Each worker gets the same command line.
 *   node (after npm run build): node dist/examples/cluster.js [--port n] [--host name]
 *   deno run -A examples/cluster.ts [--port n] [--host name]
 *   bun examples/cluster.ts [--port n] [--host name]
 * --port defaults to env PORT, else 8000; --host to 127.0.0.1.
 */
import { serve, supervise, workerId } from "portico";
import { tutorial } from "./tutorial_app.ts";
import { listenArgs } from "./tutorial_args.ts";

const { port, hostname } = listenArgs("cluster");
if (workerId() === null) {
  supervise();
} else {
  serve({ port, hostname, reusePort: true, fetch: tutorial().fetch });
}
