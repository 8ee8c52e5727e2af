/**
 * Racket's systems-programming tutorial servlets, served on port 8000:
 * /hello, /many?number=5, /sum, /sum2/, /books/.
 *   node (after npm run build): node dist/examples/tutorial.js
 *   deno run -A examples/tutorial.ts      bun examples/tutorial.ts
 */
import { serve } from "../src/mod.ts";
import { tutorial } from "./tutorial_app.ts";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
serve({ port: Number(env.PORT ?? 8000), fetch: tutorial().fetch });
