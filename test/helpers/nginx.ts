/**
 * A real nginx (Debian's package) for the deployment test: its config is
 * written to a temporary directory, it runs in the foreground on loopback
 * ports, and the test stops it.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** Where Debian's libnginx-mod-stream puts the stream module. */
export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

export interface Nginx {
  dir: string;
  stop(): Promise<void>;
  /** What nginx wrote to its error log. */
  errors(): string;
}

/** Starts nginx with `config` (the part after the global directives) and waits until `port` accepts. */
export async function startNginx(config: (dir: string) => string, port: number): Promise<Nginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portico-nginx-"));
  fs.chmodSync(dir, 0o777); // workers run as nobody when nginx starts as root
  const conf = path.join(dir, "nginx.conf");
  fs.writeFileSync(
    conf,
    `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\n` + config(dir),
  );
  const child = spawn("nginx", ["-p", dir, "-c", conf, "-e", `${dir}/error.log`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const errors = () => {
    try {
      return fs.readFileSync(path.join(dir, "error.log"), "utf8");
    } catch {
      return "";
    }
  };
  const until = Date.now() + 10_000;
  // Up once nginx has written its pid file, which it does only after it has
  // bound every listening socket, and the port answers. A port that answers
  // before that may be another process's (a port picked free that something
  // else took before nginx could bind it): nginx then exits, and this says why.
  const pidFile = path.join(dir, "nginx.pid");
  for (;;) {
    const up = fs.existsSync(pidFile) && child.exitCode === null && await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (up && child.exitCode === null) break;
    if (child.exitCode !== null || Date.now() > until) {
      throw new Error(`nginx did not start:\n${out}\n${errors()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    errors,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM"); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGKILL");
          await exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
