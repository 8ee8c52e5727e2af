/**
 * Where a server listens, and what it says when it cannot, the same under
 * node, deno and bun:
 *
 * - `serve({ path })` on a unix socket (test/fixtures/unix.mjs): requests
 *   answered over it, `addr` and `info.remoteAddr` as Deno reports them,
 *   `server.url` and the default log line, and the socket file removed on
 *   graceful and on immediate shutdown;
 * - options serve() cannot use (test/fixtures/options.mjs): unknown,
 *   mistyped or contradictory options are a TypeError naming the option; a
 *   port or socket in use is one line, identical on every runtime.
 *
 * Node runs dist/ (build first: `npm test` does), Deno and Bun the sources.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandFor, projectRoot, RUNTIMES, type RunningServer, type Runtime, startServer } from "../helpers/runtime.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "portico-listen-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GET `target` over the unix socket `socketPath`. */
function get(socketPath: string, target: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: target, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends raw bytes over the unix socket; resolves with everything received until the server closes. */
function raw(socketPath: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socketPath }, () => s.write(data));
    let text = "";
    s.setEncoding("latin1");
    s.on("data", (d) => (text += d));
    s.on("error", reject);
    s.on("close", () => resolve(text));
  });
}

function exited(server: RunningServer): Promise<void> {
  const c = server.child;
  return c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", () => r()));
}

describe.each(RUNTIMES)("unix sockets on %s", (runtime: Runtime) => {
  const socket = (name: string) => path.join(dir, `${runtime}-${name}.sock`);

  it("answers over the socket, reports its addresses as Deno does, and removes the file on graceful shutdown", async () => {
    const file = socket("graceful");
    const server = await startServer(runtime, "unix.mjs", { args: [`--path=${file}`] });
    try {
      expect(server.stdout()).toContain(`ADDR ${JSON.stringify({ transport: "unix", path: file })}`);
      expect(server.stdout()).toContain(`URL http+unix://${encodeURIComponent(file)}/\n`);
      expect(statSync(file).isSocket()).toBe(true);
      const info = await get(file, "/info");
      expect(info.status).toBe(200);
      expect(JSON.parse(info.text)).toEqual({
        url: "http://localhost/info",
        remoteAddr: { transport: "unix", path: "" },
        addr: { transport: "unix", path: file },
      });
      // No Host (HTTP/1.0): request.url still names localhost.
      const answer = await raw(file, "GET /info HTTP/1.0\r\n\r\n");
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toContain(`"url":"http://localhost/info"`);

      expect((await get(file, "/shutdown?mode=graceful")).text).toBe("stopping");
      await exited(server);
      expect(server.stdout()).toContain("FINISHED");
      expect(existsSync(file)).toBe(false);
    } finally {
      await server.stop();
    }
  });

  it("removes the socket file on immediate shutdown (server.group.shutdown())", async () => {
    const file = socket("immediate");
    const server = await startServer(runtime, "unix.mjs", { args: [`--path=${file}`] });
    try {
      expect((await get(file, "/shutdown?mode=immediate")).text).toBe("stopping");
      await exited(server);
      expect(existsSync(file)).toBe(false);
    } finally {
      await server.stop();
    }
  });

  it("logs the socket as an http+unix URL by default", async () => {
    const file = socket("log");
    const server = await startServer(runtime, "unix.mjs", { args: [`--path=${file}`, "--default-log"] });
    try {
      expect(server.stdout()).toContain(`Listening on http+unix://${encodeURIComponent(file)}/\n`);
      expect((await get(file, "/info")).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

type Results = Record<string, { name: string; message: string; code: string | null }>;

/** Runs test/fixtures/options.mjs under `runtime`; resolves with what it printed. */
function optionResults(runtime: Runtime, scratch: string, cert: string, key: string): Promise<Results> {
  const [cmd, args] = commandFor(runtime, path.join("test", "fixtures", "options.mjs"), [
    `--dir=${scratch}`,
    `--cert=${cert}`,
    `--key=${key}`,
  ]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: projectRoot, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", () => {
      clearTimeout(timer);
      const m = /^RESULT (.*)$/m.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as Results);
      else reject(new Error(`options.mjs under ${runtime} printed no RESULT\n${out}\n${err}`));
    });
  });
}

describe("options serve() cannot use", () => {
  const results = new Map<Runtime, Results>();
  let scratch: string;
  let cert: string;
  let key: string;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), "portico-options-"));
    cert = path.join(scratch, "cert.pem");
    key = path.join(scratch, "key.pem");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
      "-keyout", key, "-out", cert,
    ], { stdio: "ignore" });
    for (const runtime of RUNTIMES) results.set(runtime, await optionResults(runtime, scratch, cert, key));
  }, 60_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const refused = (message: string) => ({ name: "TypeError", message, code: null });
  const cannotListen = (where: string, why: string, code: string) => ({
    name: "Error",
    message: `portico: cannot listen on ${where}: ${why}`,
    code,
  });

  it.each(RUNTIMES)("are a TypeError naming the option on %s", (runtime) => {
    const r = results.get(runtime)!;
    expect(r.pathWithPort).toEqual(refused("serve(): `path` (a unix socket) cannot be combined with `port`"));
    expect(r.pathWithHostname).toEqual(refused("serve(): `path` (a unix socket) cannot be combined with `hostname`"));
    expect(r.pathWithTls).toEqual(
      refused(
        "serve(): `path` (a unix socket) cannot be combined with `tls` (TLS over a unix socket is not available on every runtime)",
      ),
    );
    expect(r.proxyProtocolWithTls).toEqual(
      refused(
        "serve(): `proxyProtocol` cannot be combined with `tls`: terminate TLS at the balancer that sends the PROXY header",
      ),
    );
    expect(r.topLevelCert).toEqual(refused("serve(): unknown option `cert` (TLS goes in `tls: { cert, key }`)"));
    expect(r.unknown).toEqual(refused("serve(): unknown option `prot`"));
    // Where portico has what other servers call so.
    expect(r.elsewhere_idleTimeout).toEqual(
      refused(
        "serve(): unknown option `idleTimeout`: portico's is `timeouts.keepAlive`, in milliseconds " +
          "(Bun's `idleTimeout` is in seconds)",
      ),
    );
    expect(r.elsewhere_error).toEqual(
      refused("serve(): unknown option `error`: portico's is `onError` (Bun's `serve` and srvx call it `error`)"),
    );
    expect(r.elsewhere_routes).toEqual(
      refused("serve(): unknown option `routes`: routes go in a `Router` (`serve({ fetch: router.fetch })`)"),
    );
    expect(r.elsewhere_handler).toEqual(
      refused("serve(): unknown option `handler`: the handler goes in `fetch` (Deno's `serve` names it `handler`)"),
    );
    expect(r.denoHandler).toEqual(
      refused(
        "serve() needs a handler: serve({ fetch }), serve(handler, options) or serve(options, handler) " +
          "(Deno's `serve` names `handler` what portico calls `fetch`)",
      ),
    );
    expect(r.unknownHandlerFirst).toEqual(refused("serve(): unknown option `hostnme`"));
    expect(r.unknownLimit).toEqual(refused("serve(): unknown option `limits.maxBodyByte`"));
    expect(r.unknownTimeout).toEqual(refused("serve(): unknown option `timeouts.keepalive`"));
    expect(r.portNotNumber).toEqual(refused('serve(): `port` must be an integer from 0 to 65535, got "8000"'));
    expect(r.portTooLarge).toEqual(refused("serve(): `port` must be an integer from 0 to 65535, got 65536"));
    expect(r.atMaxConnections).toEqual(
      refused('serve(): `limits.atMaxConnections` must be "wait" or "reject", got "drop"'),
    );
    expect(r.tlsMissingKey).toEqual(refused("serve(): `tls` needs both `cert` and `key`; `tls.key` is missing"));
    expect(r.tlsNoSuchFile.name).toBe("TypeError");
    expect(r.tlsNoSuchFile.message).toContain(
      `serve(): \`tls.cert\` is neither PEM text nor a readable file: ${scratch}/no-such-cert.pem (`,
    );
    expect(r.tlsNotPem).toEqual(
      refused(`serve(): \`tls.cert\`: ${scratch}/not-pem.txt is not a PEM file (no "-----BEGIN" line)`),
    );
  });

  it.each(RUNTIMES)("name the host and port, or the socket, when the address is in use, on %s", (runtime) => {
    const r = results.get(runtime)!;
    expect(r.portInUse).toEqual(cannotListen("127.0.0.1:PORT", "the address is already in use", "EADDRINUSE"));
    expect(r.unixInUse).toEqual(
      cannotListen(
        "unix socket DIR/stale.sock",
        "the address is already in use (a socket file is there: remove it if no server uses it)",
        "EADDRINUSE",
      ),
    );
    // A failed listen leaves another's socket file alone.
    expect(r.staleFileKept.name).toBe("true");
  });

  it.each(RUNTIMES)("say why a host or socket cannot be listened on, with the same code, on %s", (runtime) => {
    const r = results.get(runtime)!;
    expect(r.hostUnresolved).toEqual(
      cannotListen("no-such-host.invalid:0", "the host name does not resolve", "ENOTFOUND"),
    );
    expect(r.unixNoDir).toEqual(cannotListen("unix socket DIR/no-such-dir/a.sock", "no such directory", "ENOENT"));
    expect(r.foreignAdapter).toEqual({
      name: "Error",
      message: "portico: cannot listen on 127.0.0.1:0: the OTHER adapter runs on OTHER only: leave `adapter` out, " +
        "and serve() uses this runtime's",
      code: null,
    });
    expect(r.bracketed).toEqual({ name: "listening", message: "http://[::1]:PORT/", code: null });
    expect(r.stoppedBeforeListening.name).toBe("onListen called: false");
  });

  it("says the same on every runtime", () => {
    const [node, ...others] = RUNTIMES.map((rt) => JSON.stringify(results.get(rt)));
    for (const other of others) expect(other).toBe(node);
  });
});

// Node takes reusePort from 22.12 and 23.1 (engines allows 20): before, it
// was ignored, and a second process failed with EADDRINUSE as if nothing
// had been asked for.
// Deno with --allow-net alone: a unix socket needs read (and write) access.
// The listen error was the raw NotCapable, with a stack, from portico's own
// look at the socket's directory.
describe("a unix socket under Deno without --allow-read", () => {
  it("fails to listen with portico's one line, naming the permission", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "portico-perm-"));
    try {
      const script = path.join(dir, "probe.ts");
      writeFileSync(
        script,
        `import { serve } from ${JSON.stringify(path.join(projectRoot, "src", "mod.ts"))};
        const s = serve({ path: ${JSON.stringify(path.join(dir, "a.sock"))}, fetch: () => new Response("x"), onListen() {} });
        await s.ready().then(() => console.log("listening"), (e) => console.log(e.name + ": " + e.message));`,
      );
      const deno = path.join(projectRoot, "node_modules", ".bin", "deno");
      const out = execFileSync(deno, ["run", "--allow-net", "--no-prompt", "--no-lock", script], {
        cwd: projectRoot,
        encoding: "utf8",
      });
      expect(out.trim()).toMatch(/^Error: portico: cannot listen on unix socket \S+a\.sock: Requires read access to .*--allow-read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("reusePort on Node", () => {
  it("two servers share a port where Node supports it, and say it needs a newer Node where not", () => {
    const script = `
      import { serve } from "./dist/mod.js";
      const fetch = () => new Response("x");
      const a = serve({ port: 0, hostname: "127.0.0.1", reusePort: true, fetch, onListen() {} });
      const outcome = await a.ready().then(async () => {
        const b = serve({ port: a.addr.port, hostname: "127.0.0.1", reusePort: true, fetch, onListen() {} });
        const r = await b.ready().then(() => "shared", (e) => e.code + ": " + e.message);
        await b.shutdown().catch(() => {});
        return r;
      }, (e) => e.code + ": " + e.message);
      await a.shutdown().catch(() => {});
      console.log(outcome);`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: projectRoot, encoding: "utf8" });
    const [major, minor] = process.versions.node.split(".").map(Number);
    const supported = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
    expect(out.trim()).toBe(
      supported
        ? "shared"
        : `ENOTSUP: portico: cannot listen on 127.0.0.1:0: reusePort needs Node 22.12 or later (this is ${process.version})`,
    );
  });
});
