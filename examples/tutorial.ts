/**
 * Racket's systems-programming tutorial servlets: /hello, /many?number=5,
 * /sum, /sum2/, /books/.
 *   node (after npm run build): node dist/examples/tutorial.js [--port n] [--host name]
 *   deno run -A examples/tutorial.ts [--port n] [--host name]
 *   bun examples/tutorial.ts [--port n] [--host name]
 * --port defaults to env PORT, else 8000 (0 picks a free port); --host to 127.0.0.1.
 */
import { serve } from "portico";
import { tutorial } from "./tutorial_app.ts";
import { listenArgs } from "./tutorial_args.ts";

const { port, hostname } = listenArgs("tutorial");
serve({ port, hostname, fetch: tutorial().fetch });
