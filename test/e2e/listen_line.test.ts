/**
 * The default onListen line under node, deno and bun names the address that
 * is bound, as Deno.serve's does: a wildcard address with the local URL to
 * open beside it, an IPv6 address in brackets. The fixture
 * (test/fixtures/listen_line.mjs) then fetches a page from that address.
 */
import dns from "node:dns/promises";
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandFor, projectRoot, RUNTIMES } from "../helpers/runtime.ts";

function run(runtime: (typeof RUNTIMES)[number], hostname: string): Promise<{ code: number | null; out: string; err: string }> {
  const [cmd, args] = commandFor(runtime, path.join("test", "fixtures", "listen_line.mjs"), [hostname]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${runtime} listen_line ${hostname} did not exit\n${out}\n${err}`));
    }, 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

// What "localhost" resolves to here, as node's own listen() would bind it.
const LOCALHOST = (await dns.lookup("localhost")).address;
const hostPart = (address: string) => (address.includes(":") ? `[${address}]` : address);

const CASES: [hostname: string, line: (port: string) => string][] = [
  ["0.0.0.0", (p) => `Listening on http://0.0.0.0:${p}/ (http://localhost:${p}/)`],
  ["::", (p) => `Listening on http://[::]:${p}/ (http://localhost:${p}/)`],
  ["127.0.0.1", (p) => `Listening on http://127.0.0.1:${p}/`],
  ["::1", (p) => `Listening on http://[::1]:${p}/`],
  // The address bound, not the name (Bun's listener reported "localhost").
  ["localhost", (p) => `Listening on http://${hostPart(LOCALHOST)}:${p}/`],
];

describe.each(RUNTIMES)("the default onListen line on %s", (runtime) => {
  it.each(CASES)("names the bound address for hostname %s", async (hostname, line) => {
    const { code, out, err } = await run(runtime, hostname);
    expect(code, err).toBe(0);
    const lines = out.trim().split("\n");
    const port = /:(\d+)\//.exec(lines[0])?.[1] ?? "?";
    expect(Number(port)).toBeGreaterThan(0);
    expect(lines).toEqual([line(port), "FETCHED 200 hello"]);
  });
});
