/**
 * The tutorial app on all cores: a supervisor runs one worker per CPU on
 * port 8000 (PORT), restarts the ones that die, and stops them gracefully on
 * SIGTERM or Ctrl-C.
 *   node (after npm run build): node dist/examples/cluster.js
 *   deno run -A examples/cluster.ts        bun examples/cluster.ts
 */
import { serve, supervise, workerId } from "../src/mod.ts";
import { tutorial } from "./tutorial_app.ts";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

if (workerId() === null) {
  supervise();
} else {
  serve({ port: Number(env.PORT ?? 8000), reusePort: true, fetch: tutorial().fetch });
}
