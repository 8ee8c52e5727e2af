/**
 * Real WebSocket clients against portico under node, deno and bun: Node's
 * `ws`, Deno's and Bun's built-in WebSocket each echo 10,000 messages in
 * order (with binary and permessage-deflate-compressed ones among them), and
 * headless Chromium connects from a page the server serves.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  commandFor,
  printStderrOnFailure,
  projectRoot,
  RUNTIMES,
  type Runtime,
  type RunningServer,
  startServer,
} from "../helpers/runtime.ts";

interface ClientResult {
  runtime: string;
  received: number;
  extensions?: string;
  close?: { code: number; reason: string; wasClean: boolean };
  error?: string;
}

function runClient(client: Runtime, url: string, count: number): Promise<ClientResult> {
  const [cmd, args] = commandFor(client, path.join("test", "fixtures", "ws_client.mjs"), [url, String(count)]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", () => {
      clearTimeout(timer);
      const m = /^RESULT (.*)$/m.exec(out);
      if (m) resolve(JSON.parse(m[1]));
      else reject(new Error(`${client} client printed no result\n${out}\n${err}`));
    });
  });
}

const CHROMIUM = "/usr/bin/chromium";

describe.each(RUNTIMES)("real clients against portico on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "ws.mjs");
  });
  afterAll(() => server?.stop());
  beforeEach((ctx) => printStderrOnFailure(ctx, runtime, () => server));

  it.each(RUNTIMES)("the %s client echoes 10,000 messages in order", async (client) => {
    const r = await runClient(client, `ws://127.0.0.1:${server.port}/echo`, 10_000);
    expect(r.error).toBeUndefined();
    expect(r.received).toBe(10_000);
    // The server echoes the client's close code (RFC 6455 §5.5.1) and its reason, as Deno's and Bun's servers do.
    expect(r.close).toEqual({ code: 1000, reason: "done", wasClean: true });
    // Node's ws and Bun offer permessage-deflate; Deno's client does not.
    if (client !== "deno") expect(r.extensions).toMatch(/^permessage-deflate/);
  });

  it("headless Chromium connects from a page the server serves", async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const profile = mkdtempSync(path.join(os.tmpdir(), "portico-chromium-"));
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      userDataDir: profile,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/page`);
      await page.waitForFunction("window.__result !== undefined", { timeout: 30_000 });
      const result = await page.evaluate("window.__result");
      expect(result).toEqual({
        extensions: "permessage-deflate; client_max_window_bits=15",
        ok: 2000,
        close: { code: 4000, reason: "as asked", wasClean: true },
      });
      const rec = await (await fetch(`${server.url}/closed?id=chromium`)).json();
      expect(rec).toMatchObject({ code: 4000, wasClean: true, groupClosed: true });
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});
