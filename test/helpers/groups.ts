/**
 * Helpers for the groups / limits / shutdown suites: start the
 * test/fixtures/groups.mjs fixture and talk to its control server, look at
 * the server process's descriptors, and watch raw clients for resets.
 */
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { RawClient } from "./raw.ts";
import { startServer, type RunningServer, type Runtime } from "./runtime.ts";

export interface GroupUsage {
  groups: number;
  resources: number;
  bytes: number;
}

/** What the /resources handler recorded (see groups.mjs). */
export interface ResourceRecord {
  id: string;
  mode: string;
  startedAt: number;
  currentIsRequestGroup: boolean;
  currentAfterAwait: boolean | null;
  groupIsNew: boolean;
  depth: number;
  file: string;
  opened: boolean;
  ticks: number;
  lastTickAt: number | null;
  finaliserRanAt: number | null;
  groupAbortedAt: number | null;
  groupReason: { name: string | null; kind: string | null; message: string } | null;
  requestAbortedAt: number | null;
  streamCancelledAt: number | null;
}

export interface GroupsFixture {
  runtime: Runtime;
  process: RunningServer;
  /** The server process's pid (the runtime itself, not a wrapper). */
  pid: number;
  /** Where the handlers' files live. */
  tmpdir: string;
  /** Port of the "main" app server. */
  port: number;
  controlPort: number;
  /** Calls the control server; throws on a non-2xx answer. */
  control<T = unknown>(path: string, init?: { method?: string; body?: unknown }): Promise<T>;
  /** Starts another app server; returns its port. */
  startApp(name: string, options: Record<string, unknown>): Promise<number>;
  usage(name?: string): Promise<GroupUsage>;
  state<T = ResourceRecord>(id: string): Promise<T | null>;
  stop(): Promise<void>;
}

/** Starts groups.mjs under `runtime` with `options` for its "main" server. */
export async function startGroupsFixture(runtime: Runtime, options: Record<string, unknown> = {}): Promise<GroupsFixture> {
  const proc = await startServer(runtime, "groups.mjs", { args: [`--options=${JSON.stringify(options)}`] });
  const out = proc.stdout();
  const pick = (key: string) => {
    const m = new RegExp(`^${key} (.+?)\\s*$`, "m").exec(out);
    if (!m) throw new Error(`fixture did not print ${key}:\n${out}`);
    return m[1]!;
  };
  const pid = Number(pick("PID"));
  const tmpdir = pick("TMPDIR");
  const controlPort = Number(pick("CONTROL"));
  const control = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
    const r = await fetch(`http://127.0.0.1:${controlPort}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`control ${path}: ${r.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    runtime,
    process: proc,
    pid,
    tmpdir,
    port: proc.port,
    controlPort,
    control,
    async startApp(name, opts) {
      const r = await control<{ port: number }>(`/servers?name=${encodeURIComponent(name)}`, { body: opts });
      return r.port;
    },
    usage: (name = "main") => control<GroupUsage>(`/usage?name=${encodeURIComponent(name)}`),
    state: <T>(id: string) => control<T | null>(`/state?id=${encodeURIComponent(id)}`),
    async stop() {
      await proc.stop();
      rmSync(tmpdir, { recursive: true, force: true });
    },
  };
}

/** The descriptors process `pid` has open (Linux /proc). */
export function openFds(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`);
}

/** How many of process `pid`'s descriptors refer to `file`. */
export function fdsOpenOn(pid: number, file: string): number {
  let n = 0;
  for (const fd of openFds(pid)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target === file || target === `${file} (deleted)`) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/** Counts the server process's TCP socket descriptors. */
export function socketFds(pid: number): number {
  let n = 0;
  for (const fd of openFds(pid)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/** A raw client, plus the socket error codes it saw (ECONNRESET: the peer sent a reset). */
export interface WatchedClient {
  client: RawClient;
  errors: string[];
  /** performance.now() when the socket closed, or null. */
  closedAt(): number | null;
}

export async function connectWatched(port: number): Promise<WatchedClient> {
  const client = await RawClient.connect(port);
  const errors: string[] = [];
  let closedAt: number | null = null;
  client.socket.on("error", (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
  client.socket.on("close", () => (closedAt = performance.now()));
  return { client, errors, closedAt: () => closedAt };
}

/** Resolves with the error code if connecting to `port` fails, or "connected". */
export function tryConnect(port: number): Promise<string> {
  return RawClient.connect(port).then(
    (c) => {
      c.destroy();
      return "connected";
    },
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
}

/** Resolves once `p` settles or `ms` passed; returns whether it settled. */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    p.then(() => true, () => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]);
}

/** Waits until `client` has received bytes that contain `needle` (or closed / `ms` passed); returns whether they did. */
export async function waitForBytes(client: RawClient, needle: string, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (client.buffered.includes(needle)) return true;
    if (client.isClosed) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return client.buffered.includes(needle);
}

/** The inodes of the TCP sockets bound locally to `port` (from /proc/<pid>/net/tcp and tcp6). */
function socketInodesOnPort(pid: number, port: number): Set<string> {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]!.endsWith(`:${hex}`)) inodes.add(cols[9]!);
    }
  }
  return inodes;
}

/**
 * The server process's descriptors, split into those that are sockets of
 * `port` (its listener and its connections) and all the others that are
 * not sockets (files, pipes, event fds). Sockets of other ports (the
 * control server's keep-alive connections) are left out.
 */
export function fdsOf(pid: number, port: number): { onPort: number; other: number } {
  const inodes = socketInodesOnPort(pid, port);
  let onPort = 0;
  let other = 0;
  for (const fd of openFds(pid)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while we looked
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m === null) other++;
    else if (inodes.has(m[1]!)) onPort++;
  }
  return { onPort, other };
}
