/**
 * The `portico` command (a file server) as a user runs it, under each
 * runtime, from a directory holding ./public:
 *   node: `npx portico ./public` from the packed package installed there
 *   deno: `deno run --allow-net --allow-read <checkout>/src/cli.ts ./public` (the JSR `./cli` export)
 *   bun:  `bun node_modules/.bin/portico ./public` (the installed bin, run by bun)
 * It fetches a file, a listing, a 404, CORS headers and a preflight, reads
 * the access log, and checks --no-dir-listing, --host, --cert/--key, bad
 * command lines and the stop on SIGTERM.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, RUNTIMES, type Runtime } from "../helpers/runtime.ts";

const bin = (name: string) => path.join(projectRoot, "node_modules", ".bin", name);
let dir = "";

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "portico-cli-"));
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: projectRoot, encoding: "utf8" });
  const info = JSON.parse(out.slice(out.indexOf("[")))[0] as { filename: string };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "user", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(dir, info.filename)], {
    cwd: dir,
  });
  const pub = path.join(dir, "public");
  fs.mkdirSync(path.join(pub, "docs"), { recursive: true });
  fs.writeFileSync(path.join(pub, "hello.txt"), "Hello, World!\n");
  fs.writeFileSync(path.join(pub, "docs", "guide.md"), "# Guide\n");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
  ], { stdio: "ignore" });
}, 180_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
});

/** The command line a user types, for `args` after the program (`direct`: node runs the bin itself, without npx). */
function command(runtime: Runtime, args: string[], direct = false): [string, string[]] {
  switch (runtime) {
    case "node":
      return direct ? [path.join("node_modules", ".bin", "portico"), args] : ["npx", ["portico", ...args]];
    case "deno":
      return [bin("deno"), ["run", "--allow-net", "--allow-read", path.join(projectRoot, "src", "cli.ts"), ...args]];
    case "bun":
      return [bin("bun"), [path.join("node_modules", ".bin", "portico"), ...args]];
  }
}

interface Cli {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
  /** The URL it printed once listening. */
  url: Promise<string>;
  /** SIGTERM to the whole process group (npx and the server under it). */
  stop(): void;
}

/** Starts the command; `perTest` ones are killed after each test if still running. */
function run(runtime: Runtime, args: string[], perTest = true, direct = false): Cli {
  const [cmd, argv] = command(runtime, args, direct);
  // Its own process group, so that a signal reaches the server under npx too.
  const child = spawn(cmd, argv, {
    cwd: dir,
    detached: true,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (perTest) running.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = (async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = / on (https?:\/\/\S+\/)$/m.exec(out);
      if (m) return m[1];
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not listen\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  url.catch(() => {});
  return { child, out: () => out, err: () => err, exited, url, stop: () => process.kill(-child.pid!, "SIGTERM") };
}

/** The pids of the processes left in process group `pgid`. */
function group(pgid: number): number[] {
  const left: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") left.push(Number(pid));
    } catch {
      // gone while we looked
    }
  }
  return left;
}

/**
 * SIGTERM, then: the server exited with status 0 (npx itself ends by the
 * signal, as npm does for any program; the server under it must be gone too).
 */
async function stopped(runtime: Runtime, cli: Cli): Promise<void> {
  cli.stop();
  const code = await cli.exited;
  if (runtime === "node" && cli.child.spawnargs[0] === "npx") {
    expect(cli.child.signalCode).toBe("SIGTERM");
    await waitFor(() => group(cli.child.pid!).length === 0, cli);
  } else {
    expect(code).toBe(0);
  }
  expect(cli.err()).toBe("");
}

async function waitFor(what: () => boolean, cli: Cli): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out\n${cli.out()}\n${cli.err()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(RUNTIMES)("the portico command on %s", (runtime) => {
  let cli: Cli;
  let base = "";
  beforeAll(async () => {
    cli = run(runtime, ["./public", "--port", "0", "--cors"], false);
    base = await cli.url;
  }, 60_000);
  afterAll(async () => {
    if (cli) await stopped(runtime, cli);
  });

  it("prints where it serves what: 127.0.0.1 unless told otherwise", () => {
    expect(cli.out()).toMatch(new RegExp(`^portico: serving ${path.join(dir, "public")} on http://127\\.0\\.0\\.1:\\d+/$`, "m"));
  });

  it("serves a file, with CORS headers", async () => {
    const res = await fetch(`${base}hello.txt`, { headers: { origin: "http://elsewhere.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.text()).toBe("Hello, World!\n");
  });

  it("lists a directory", async () => {
    const res = await fetch(`${base}docs/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain(`href="./guide.md"`);
  });

  it("answers 404 for what is not there, with CORS headers too", async () => {
    const res = await fetch(`${base}missing.txt`);
    expect(res.status).toBe(404);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    await res.arrayBuffer();
  });

  it("answers a CORS preflight", async () => {
    const res = await fetch(`${base}hello.txt`, {
      method: "OPTIONS",
      headers: { origin: "http://elsewhere.example", "access-control-request-method": "GET" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toBe("GET, HEAD, OPTIONS");
  });

  it("logs one line per request", async () => {
    const res = await fetch(`${base}hello.txt?from=log`);
    await res.text();
    const line = /^\S+Z 127\.0\.0\.1 "GET \/hello\.txt\?from=log" 200 14 \d+\.\dms$/m;
    await waitFor(() => line.test(cli.out()), cli);
    // A response made of a string (the 404 page) logs the length it was sent with, not "-".
    expect(cli.out()).toMatch(/^\S+Z 127\.0\.0\.1 "GET \/missing\.txt" 404 \d+ /m);
    expect(cli.out()).toMatch(/^\S+Z 127\.0\.0\.1 "GET \/docs\/" 200 /m);
    expect(new Date(/^(\S+Z) /m.exec(cli.out().split("\n")[1])![1]).getTime()).toBeGreaterThan(Date.now() - 120_000);
  });

  it("--no-dir-listing, --host and --quiet", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.2", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const other = run(runtime, ["public", "--no-dir-listing", "--host", "127.0.0.2", "--port", String(port), "--quiet"]);
    expect(await other.url).toBe(`http://127.0.0.2:${port}/`);
    expect((await fetch(`http://127.0.0.2:${port}/docs/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.2:${port}/docs/guide.md`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${port}/hello.txt`)).rejects.toThrow();
    await stopped(runtime, other);
    expect(other.out().trim().split("\n")).toHaveLength(1); // the address, no log
  });

  it("serves HTTPS with --cert and --key", async () => {
    const secure = run(runtime, ["./public", "--port", "0", "--cert", "cert.pem", "--key", "key.pem"]);
    const url = await secure.url;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const body = await new Promise<string>((resolve, reject) => {
      https.get(`${url}hello.txt`, { ca: fs.readFileSync(path.join(dir, "cert.pem")) }, (res) => {
        let b = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (b += d));
        res.on("end", () => resolve(`${res.statusCode} ${b}`));
      }).on("error", reject);
    });
    expect(body).toBe("200 Hello, World!\n");
    await stopped(runtime, secure);
  });

  it("stops on SIGTERM with status 0, after the download in flight (the installed bin run directly)", async () => {
    fs.writeFileSync(path.join(dir, "public", "big.bin"), Buffer.alloc(32 << 20, 7));
    const direct = run(runtime, ["./public", "--port", "0"], true, true);
    const url = await direct.url;
    const res = await fetch(`${url}big.bin`);
    const reader = res.body!.getReader();
    const first = await reader.read(); // the download has begun
    direct.stop();
    let bytes = first.value!.byteLength;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    expect(bytes).toBe(32 << 20);
    expect(await direct.exited).toBe(0);
    expect(direct.err()).toBe("");
  });

  it("refuses a bad command line in one line plus its usage (status 2); a missing directory, a port in use, a missing certificate in one line (status 1)", async () => {
    for (const args of [["--port", "http"], ["--cert", "cert.pem"], ["a", "b"], ["--bogus"]]) {
      const bad = run(runtime, args);
      expect(await bad.exited).toBe(2);
      expect(bad.err()).toMatch(/^portico: .+\n\nusage: portico \[dir\] \[options\]/);
    }
    const missing = run(runtime, ["./nowhere"]);
    expect(await missing.exited).toBe(1);
    expect(missing.err().trim()).toBe("portico: cannot serve ./nowhere: ENOENT");
    const taken = net.createServer();
    const port = await new Promise<number>((r) =>
      taken.listen(0, "127.0.0.1", () => r((taken.address() as net.AddressInfo).port))
    );
    try {
      const busy = run(runtime, ["./public", "--port", String(port)]);
      expect(await busy.exited).toBe(1);
      expect(busy.err()).toMatch(new RegExp(`^portico: cannot listen on 127\\.0\\.0\\.1:${port}: [^\\n]+\\n$`));
    } finally {
      taken.close();
    }
    const noCert = run(runtime, ["./public", "--cert", "none.pem", "--key", "none.pem"]);
    expect(await noCert.exited).toBe(1);
    expect(noCert.err()).toMatch(/^portico: cannot read --cert\/--key: ENOENT[^\n]*none\.pem'?\n$/);
    const help = run(runtime, ["--help"]);
    expect(await help.exited).toBe(0);
    expect(help.out()).toContain("--no-dir-listing");
  });
});
