/**
 * The demo server: `npm start` (node), `deno run -A examples/demo.ts`,
 * `bun examples/demo.ts`. Port 8000 unless PORT says otherwise.
 */
import { serve } from "portico";

// `host` is the request's Host, which the parser has checked (no markup can be in it).
const page = (runtime: string, host: string) =>
  `<!doctype html>
<html><head><meta charset="utf-8"><title>portico</title></head>
<body>
<h1>portico</h1>
<p>Hello from portico on ${runtime}.</p>
<ul>
  <li><a href="/json">/json</a>: a JSON response</li>
  <li><a href="/stream">/stream</a>: a streamed (chunked) response</li>
  <li><code>curl -d 'hi' ${host}/echo</code>: echoes the body</li>
</ul>
</body></html>`;

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Deno ? "Deno" : g.Bun ? "Bun" : `Node ${process.version}`;
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

serve({
  port: Number(env.PORT ?? 8000),
  fetch(request, info) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/":
        return new Response(page(runtime, url.host), { headers: { "content-type": "text/html; charset=utf-8" } });
      case "/json":
        return Response.json({ runtime, path: url.pathname, client: info.remoteAddr });
      case "/stream": {
        let n = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (n === 5) return c.close();
              await new Promise((r) => setTimeout(r, 200));
              c.enqueue(new TextEncoder().encode(`tick ${++n}\n`));
            },
          }),
          { headers: { "content-type": "text/plain; charset=utf-8" } },
        );
      }
      case "/echo":
        return new Response(request.body);
      default:
        return new Response("Not Found\n", { status: 404 });
    }
  },
});
