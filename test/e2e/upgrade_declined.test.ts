/**
 * Requests with `Upgrade` that the handler declines (it returns a normal
 * response): the bytes after them are HTTP, parsed like any pipelined input,
 * under node, deno and bun (issue 18). The accepted case (the bytes after
 * are the new protocol's) is tested with WebSocket and test/e2e/upgrade.test.ts.
 *
 * The fixture (test/fixtures/split.mjs) echoes "<method> <target> <body>"
 * for every request and upgrades none; its default-limits server is used. Split writes of these requests at
 * every byte boundary are in test/e2e/split.test.ts (the fuzz corpus has them).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { req, withRaw } from "../helpers/raw.ts";
import { printStderrOnFailure, RUNTIMES, type Runtime, type RunningServer, startServer } from "../helpers/runtime.ts";

const ws = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };

describe.each(RUNTIMES)("a declined upgrade on %s", (runtime: Runtime) => {
  let server: RunningServer;
  const app = { port: 0 };

  beforeAll(async () => {
    server = await startServer(runtime, "split.mjs");
    app.port = Number(/^DEFAULT (\d+)/m.exec(server.stdout())![1]);
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  it("parses the requests pipelined behind it, in the same write, as HTTP", async () => {
    await withRaw(app, async (c) => {
      await c.write(req("GET", "/ws", ws) + req("GET", "/next") + req("POST", "/post", {}, "body"));
      const answers = await c.readResponses(["GET", "GET", "POST"]);
      expect(answers.map((r) => [r.status, r.text()])).toEqual([
        [200, "GET /ws "],
        [200, "GET /next "],
        [200, "POST /post body"],
      ]);
      expect(answers[0].header("upgrade")).toBeNull();
      expect(answers[0].header("connection")).toBeNull();
    });
  });

  it("parses bytes that come later, after its answer, as HTTP", async () => {
    await withRaw(app, async (c) => {
      await c.write(req("GET", "/ws", ws));
      const first = await c.readResponse();
      expect([first.status, first.text()]).toEqual([200, "GET /ws "]);
      await c.write(req("GET", "/later"));
      const later = await c.readResponse();
      expect([later.status, later.text()]).toEqual([200, "GET /later "]);
    });
  });

  it("reads its body, then refuses frame-like bytes after it as a malformed request (400, close)", async () => {
    await withRaw(app, async (c) => {
      const frame = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
      await c.write(Buffer.concat([Buffer.from(req("POST", "/up", ws, "ab"), "latin1"), frame]));
      const [ok, bad] = await c.readResponses(["POST", "GET"]);
      expect([ok.status, ok.text()]).toEqual([200, "POST /up ab"]);
      expect(bad.status).toBe(400);
      expect(bad.header("connection")).toMatch(/close/i);
      expect(await c.waitForServerClose(3000)).toBe(true);
    });
  });

  it("closes after it when it also asks to close", async () => {
    await withRaw(app, async (c) => {
      await c.write(req("GET", "/ws", { ...ws, connection: "Upgrade, close" }) + req("GET", "/never"));
      const r = await c.readResponse();
      expect([r.status, r.text()]).toEqual([200, "GET /ws "]);
      expect(r.header("connection")).toMatch(/close/i);
      expect(await c.waitForServerClose(3000)).toBe(true);
      expect(c.buffered.length).toBe(0);
    });
  });
});
