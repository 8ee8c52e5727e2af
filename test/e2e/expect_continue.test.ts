/**
 * `Expect: 100-continue` under node, deno and bun, over real sockets: the
 * client waits for `100 Continue` before it sends the body, and gets it as
 * soon as the body is wanted — by the handler (`await req.text()`) or by
 * the response that carries the body on (`new Response(req.body)`, a pipe
 * through a transform, a stream that says something first). A handler
 * that refuses without reading sends its final answer instead, with no
 * 100. Before the fix a response built on `req.body` never sent the 100:
 * curl waited its one-second timeout on every upload (its `-T` and any
 * `--data-binary` above 1 KiB send the expectation).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { printStderrOnFailure, RUNTIMES, startServer, type RunningServer, type Runtime } from "../helpers/runtime.ts";
import { RawClient } from "../helpers/raw.ts";

const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";

/** Waits until the client has received at least one whole head; returns what arrived. */
async function firstHead(c: RawClient, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  while (!c.buffered.includes("\r\n\r\n")) {
    if (Date.now() > deadline) throw new Error(`no head within ${ms} ms; got ${JSON.stringify(c.buffered.toString())}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return c.buffered.toString("latin1");
}

function head(path: string, length: number): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`;
}

/** Runs curl; resolves with its exit code, stdout and stderr. */
function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject); // curl missing: .ci/run installs it
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe.each(RUNTIMES)("Expect: 100-continue on %s", (runtime: Runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "continue.mjs");
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  it.each([
    ["/text", "the handler reads the body", "got payload"],
    ["/echo", "the response is new Response(req.body)", "payload"],
    ["/pipe", "the response pipes req.body through a TransformStream", "payload"],
    ["/greet", "the response takes req.body's reader and says something first", "hello, payload"],
  ])("%s: 100 Continue comes first when %s, then the body is read", async (route, _what, answer) => {
    const c = await RawClient.connect(server.port);
    try {
      await c.write(head(route, 7));
      expect((await firstHead(c)).startsWith(CONTINUE)).toBe(true);
      await c.write("payload");
      const r = await c.readResponse();
      expect(r.interim.map((i) => i.status)).toEqual([100]);
      expect(r.status).toBe(200);
      expect(r.text()).toBe(answer);
      // The body is read, by the handler or the response's writer: the
      // connection is kept, good for the next request.
      expect(r.header("connection")).toBeNull();
      await c.write(head("/text", 2));
      await firstHead(c);
      await c.write("ok");
      expect((await c.readResponse()).text()).toBe("got ok");
    } finally {
      c.destroy();
    }
  });

  it("a handler that refuses without reading answers at once, with no 100", async () => {
    const c = await RawClient.connect(server.port);
    try {
      await c.write(head("/refuse", 100));
      expect(await firstHead(c)).toMatch(/^HTTP\/1\.1 413 /);
      const r = await c.readResponse();
      expect(r.interim).toEqual([]);
      expect(r.text()).toBe("too large for us\n");
    } finally {
      c.destroy();
    }
  });

  it("curl -T gets its 100 Continue from an echoing handler, rather than waiting for its timeout", async () => {
    const file = path.join(tmpdir(), `portico-continue-${process.pid}-${runtime}.txt`);
    const body = "a file curl uploads\n".repeat(100); // 2,000 bytes
    writeFileSync(file, body);
    for (const route of ["/echo", "/pipe"]) {
      // A 20 s expect timeout: were the 100 not sent, curl would go on
      // after it, and the check on its trace below would fail.
      const r = await curl(["-sS", "-v", "--expect100-timeout", "20", "-T", file, `${server.url}${route}`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(body);
      expect(r.stderr).toContain("< HTTP/1.1 100 Continue");
      expect(r.stderr).not.toContain("Done waiting for 100-continue");
    }
  });
});
