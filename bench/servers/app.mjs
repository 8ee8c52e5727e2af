// The small Hono app served by portico, @hono/node-server, Deno.serve and
// Bun.serve: the routes of common.mjs, plus a few more so that the router
// has something to do (several static routes, a param route, JSON in and out).

import { Hono } from "hono";
import { BIG, HELLO } from "./common.mjs";

export function makeApp() {
  const app = new Hono();
  app.get("/", (c) => c.text(HELLO));
  app.get("/64k", (c) => c.body(BIG, 200, { "content-type": "application/octet-stream" }));
  app.post("/echo", async (c) => c.body(await c.req.arrayBuffer(), 200, { "content-type": "application/octet-stream" }));
  app.get("/users/:id", (c) => {
    const id = c.req.param("id");
    return c.json({ id, name: `user ${id}` });
  });
  app.post("/users", async (c) => c.json({ created: await c.req.json() }, 201));
  app.get("/health", (c) => c.json({ ok: true }));
  app.get("/posts/:postId/comments/:commentId", (c) =>
    c.json({ post: c.req.param("postId"), comment: c.req.param("commentId") }));
  app.notFound((c) => c.text("Not Found", 404));
  return app;
}
