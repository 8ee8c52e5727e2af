/**
 * A real `redis-server` (Debian's package) for the tests: started on a
 * random loopback port with no persistence, stopped (and restarted on the
 * same port) by the test itself.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import net from "node:net";

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** Starts it (again) on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it (SIGKILL: a crash, nothing saved) and waits for it to exit. */
  stop(): Promise<void>;
  /** Runs one command with redis-cli and resolves with its output (for DEBUG SLEEP, KEYS). */
  command(...args: string[]): Promise<string>;
  /**
   * Resolves once the server has stopped answering (a DEBUG SLEEP under way):
   * a PING over a connection of its own goes unanswered for 200 ms. Rejects
   * after `ms`. (redis-cli is a process of its own: a fixed wait after
   * starting it was not always enough on a loaded machine.)
   */
  asleep(ms?: number): Promise<void>;
}

// Whether a PING on a fresh connection is answered within `ms`.
function answers(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    const done = (v: boolean) => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), ms);
    c.on("connect", () => c.write("*1\r\n$4\r\nPING\r\n"));
    c.on("data", (d) => d.toString().startsWith("+PONG") && done(true));
    c.on("error", () => done(false));
  });
}

/** Starts a redis-server on a random loopback port. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn("redis-server", [
        "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--enable-debug-command", "local", "--loglevel", "warning",
      ], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (out += d));
      const c = child;
      exited = new Promise((r) => c.once("exit", () => r()));
      const until = Date.now() + 10_000;
      for (;;) {
        try {
          if ((await server.command("PING")) === "PONG") return;
        } catch {
          // not up yet
        }
        if (c.exitCode !== null || Date.now() > until) throw new Error(`redis-server did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      child = null;
    },
    async asleep(ms = 3000) {
      const deadline = Date.now() + ms;
      while (await answers(port, 200)) {
        if (Date.now() > deadline) throw new Error("redis-server kept answering");
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    command(...args: string[]) {
      return new Promise((resolve, reject) => {
        execFile("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 }, (e, out) =>
          e ? reject(e) : resolve(out.trim()));
      });
    },
  };
  await server.start();
  return server;
}
