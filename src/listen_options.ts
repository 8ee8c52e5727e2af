/**
 * From `serve()`'s options to what an adapter's `listen()` takes, and from
 * a runtime's listen error to one clear line.
 *
 * An option `serve()` does not know, or two that contradict each other
 * (`path` with `port`), is a `TypeError` that names it: an option that was
 * silently ignored once left a server on TCP that was meant for a unix
 * socket. TLS certificates and keys may be given as PEM text, as file
 * paths (as Bun and srvx take them) or as the bytes of a PEM file
 * (`readFileSync("cert.pem")`, as Node's examples read them).
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ListenOptions, NetAddr, SocketAdapter } from "./adapter.ts";
import type { ServeInit } from "./types.ts";
import { parseIp } from "./proxy/ip.ts";

// Every option serve() reads; one that is not here is refused, never
// ignored. A new option must be added here (and checked below).
const OPTIONS = new Set([
  "fetch",
  "port",
  "hostname",
  "path",
  "signal",
  "onListen",
  "onError",
  "adapter",
  "reusePort",
  "backlog",
  "tls",
  "limits",
  "timeouts",
  "lightResponse",
  "proxyProtocol",
  "trustProxy",
]);
/** A check for one option: the test, and what the option must be. */
type Rule = readonly [ok: (v: unknown) => boolean, what: string];

const isCount = (v: unknown) => typeof v === "number" && (Number.isSafeInteger(v) || v === Infinity) && v >= 0;
const isMs = (v: unknown) => typeof v === "number" && !Number.isNaN(v) && v >= 0;
const COUNT: Rule = [isCount, "a non-negative integer"];
const MS: Rule = [isMs, "a number of milliseconds (Infinity: none)"];
const PEM: Rule = [
  (v) => (typeof v === "string" && v !== "") || v instanceof Uint8Array,
  "PEM text, a file path, or a PEM file's bytes",
];

const LIMITS: Record<string, Rule> = {
  maxHeaderBytes: COUNT,
  maxUrlBytes: COUNT,
  maxBodyBytes: COUNT,
  // 0 would let no client in, ever (with "wait", each would wait forever).
  maxConnections: [(v) => isCount(v) && (v as number) > 0, "a positive integer (Infinity: no limit)"],
  atMaxConnections: [(v) => v === "wait" || v === "reject", '"wait" or "reject"'],
  connectionBytes: COUNT,
};
const TIMEOUTS: Record<string, Rule> = { headers: MS, body: MS, keepAlive: MS, send: MS, handler: MS, shutdown: MS };
const TLS: Record<string, Rule> = { cert: PEM, key: PEM };

function fail(message: string): never {
  throw new TypeError(`serve(): ${message}`);
}

// Options of the servers people come from (Deno.serve, Bun.serve, srvx,
// node:http), and where portico has each.
const IN_TLS = " (TLS goes in `tls: { cert, key }`)";
const ELSEWHERE: Record<string, string> = {
  cert: IN_TLS,
  key: IN_TLS,
  handler: ": the handler goes in `fetch` (Deno's `serve` names it `handler`)",
  error: ": portico's is `onError` (Bun's `serve` and srvx call it `error`)",
  idleTimeout: ": portico's is `timeouts.keepAlive`, in milliseconds (Bun's `idleTimeout` is in seconds)",
  keepAliveTimeout: ": portico's is `timeouts.keepAlive`",
  headersTimeout: ": portico's is `timeouts.headers`",
  requestTimeout: ": portico's are `timeouts.headers` and `timeouts.body`",
  maxRequestBodySize: ": portico's is `limits.maxBodyBytes`",
  maxHeaderSize: ": portico's is `limits.maxHeaderBytes`",
  unix: ": a unix socket is `path`",
  routes: ": routes go in a `Router` (`serve({ fetch: router.fetch })`)",
  websocket:
    ": a handler answers a WebSocket upgrade with `upgradeWebSocket(request)`, which gives `{ socket, response }`",
  silent: ": an `onListen` of your own replaces the line portico prints (`onListen() {}`: none)",
  gracefulShutdown: ": `server.shutdown()` is graceful, bounded by `timeouts.shutdown`",
};

function known(where: string, value: object, names: Set<string>): void {
  for (const [name, v] of Object.entries(value)) {
    // A key spelled out as undefined carries nothing (`{ ...defaults, port: undefined }`).
    if (v !== undefined && !names.has(name)) {
      const hint = where === "" && Object.hasOwn(ELSEWHERE, name) ? ELSEWHERE[name] : "";
      fail(`unknown option \`${where}${name}\`${hint}`);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function check(name: string, value: unknown, ok: (v: unknown) => boolean, what: string): void {
  if (value !== undefined && !ok(value)) fail(`\`${name}\` must be ${what}, got ${describe(value)}`);
}

// The options of one nested object (`limits.*`, `timeouts.*`, `tls.*`).
function section(where: string, value: object, rules: Record<string, Rule>): void {
  for (const [name, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (!Object.hasOwn(rules, name)) fail(`unknown option \`${where}.${name}\``);
    check(`${where}.${name}`, v, ...rules[name]);
  }
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "function") return "a function";
  if (Array.isArray(v)) return "an array";
  if (isObject(v)) return "an object";
  return String(v);
}

/**
 * Throws a `TypeError` naming the first option of `init` that `serve()`
 * does not know, has the wrong type, or contradicts another.
 *
 * @example
 * ```ts
 * import { checkServeOptions } from "./listen_options.ts";
 * const fetch = () => new Response("hi");
 * checkServeOptions({ port: 8000, fetch }); // fine
 * try {
 *   checkServeOptions({ path: "/tmp/app.sock", port: 8000, fetch });
 * } catch (e) {
 *   console.log((e as TypeError).message); // serve(): `path` (a unix socket) cannot be combined with `port` …
 * }
 * ```
 */
export function checkServeOptions(init: ServeInit): void {
  known("", init, OPTIONS);
  check(
    "port",
    init.port,
    (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535,
    "an integer from 0 to 65535",
  );
  check("hostname", init.hostname, (v) => typeof v === "string" && v !== "", "a non-empty string");
  check("path", init.path, (v) => typeof v === "string" && v !== "", "a non-empty string (a unix socket's file)");
  check("signal", init.signal, (v) => isObject(v) && typeof v.addEventListener === "function", "an AbortSignal");
  check("onListen", init.onListen, (v) => typeof v === "function", "a function");
  check("onError", init.onError, (v) => typeof v === "function", "a function");
  check("adapter", init.adapter, (v) => isObject(v) && typeof v.listen === "function", "a SocketAdapter");
  check("reusePort", init.reusePort, (v) => typeof v === "boolean", "a boolean");
  check("lightResponse", init.lightResponse, (v) => typeof v === "boolean", "a boolean");
  check("proxyProtocol", init.proxyProtocol, (v) => typeof v === "boolean", "a boolean");
  check(
    "trustProxy",
    init.trustProxy,
    (v) => typeof v === "boolean" || (Array.isArray(v) && v.every((a) => typeof a === "string")),
    "a boolean or an array of addresses",
  );
  check("backlog", init.backlog, (v) => Number.isSafeInteger(v) && (v as number) > 0, "a positive integer");
  const isRecord = (v: unknown) => isObject(v) && !Array.isArray(v);
  check("limits", init.limits, isRecord, "an object");
  check("timeouts", init.timeouts, isRecord, "an object");
  check("tls", init.tls, isRecord, "an object with `cert` and `key`");
  if (init.limits) section("limits", init.limits, LIMITS);
  if (init.timeouts) section("timeouts", init.timeouts, TIMEOUTS);
  if (init.tls) {
    section("tls", init.tls, TLS);
    for (const name of ["cert", "key"] as const) {
      if (init.tls[name] === undefined) fail(`\`tls\` needs both \`cert\` and \`key\`; \`tls.${name}\` is missing`);
    }
  }
  if (init.proxyProtocol === true && init.tls !== undefined) {
    // The header comes before TLS on the wire, and the server would read it inside.
    fail("`proxyProtocol` cannot be combined with `tls`: terminate TLS at the balancer that sends the PROXY header");
  }
  if (init.path !== undefined) {
    for (const name of ["port", "hostname", "reusePort", "tls"] as const) {
      if (init[name] !== undefined) {
        fail(
          `\`path\` (a unix socket) cannot be combined with \`${name}\`` +
            (name === "tls" ? " (TLS over a unix socket is not available on every runtime)" : ""),
        );
      }
    }
  }
}

/**
 * A PEM value as given (it contains `-----BEGIN`), else the text of the
 * file it names. Throws a `TypeError` naming the option when the file
 * cannot be read.
 */
function pem(name: string, value: string | Uint8Array): string {
  if (value instanceof Uint8Array) {
    const text = new TextDecoder().decode(value);
    if (!text.includes("-----BEGIN")) fail(`\`${name}\`: the bytes given are not PEM (no "-----BEGIN" line)`);
    return text;
  }
  if (value.includes("-----BEGIN")) return value;
  let text: string;
  try {
    text = readFileSync(value, "utf8");
  } catch (e) {
    fail(`\`${name}\` is neither PEM text nor a readable file: ${value} (${(e as Error).message})`);
  }
  if (!text.includes("-----BEGIN")) fail(`\`${name}\`: ${value} is not a PEM file (no "-----BEGIN" line)`);
  return text;
}

/**
 * What the adapter is asked to listen on, for options that passed
 * {@link checkServeOptions}: a unix socket (`path`) or a host and port;
 * TLS files read into PEM text.
 *
 * @example
 * ```ts
 * import { listenOptions } from "./listen_options.ts";
 * const options = listenOptions({ path: "/tmp/app.sock", fetch: () => new Response("hi") });
 * console.log(options.path); // "/tmp/app.sock"
 * ```
 */
export function listenOptions(init: ServeInit): ListenOptions {
  const hostname = init.hostname ?? "0.0.0.0";
  const options: ListenOptions = {
    port: init.port ?? 8000,
    // "[::1]", as in a URL: Deno and Bun's server take it, Node and Bun's listen do not.
    hostname: /^\[.*\]$/.test(hostname) ? hostname.slice(1, -1) : hostname,
    reusePort: init.reusePort,
    backlog: init.backlog,
  };
  if (init.path !== undefined) options.path = init.path;
  if (init.tls) options.tls = { cert: pem("tls.cert", init.tls.cert), key: pem("tls.key", init.tls.key) };
  return options;
}

/**
 * The address a server asked to listen on, as `onListen` reports it once
 * it is bound.
 *
 * @example
 * ```ts
 * import { requestedAddr } from "./listen_options.ts";
 * console.log(requestedAddr({ port: 8000, hostname: "127.0.0.1" })); // { transport: "tcp", … }
 * ```
 */
export function requestedAddr(options: ListenOptions): NetAddr {
  return options.path !== undefined
    ? { transport: "unix", path: options.path }
    : { transport: "tcp", hostname: options.hostname, port: options.port };
}

/** `http+unix://%2Ftmp%2Fapp.sock/` (`https+unix:` with TLS): a unix server's `url`. */
export function unixUrl(scheme: string, path: string): string {
  return `${scheme.slice(0, scheme.indexOf(":"))}+unix://${encodeURIComponent(path)}/`;
}

const REASONS: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EADDRNOTAVAIL: "the address is not available on this machine",
  ENOENT: "no such directory",
  ENOTFOUND: "the host name does not resolve",
};

/**
 * Calls `adapter.listen`, turning its failure into one line that says what
 * could not be bound and why, the same on every runtime:
 * `portico: cannot listen on 127.0.0.1:8000: the address is already in use`.
 * The runtime's error is the `cause`, its `code` (`EADDRINUSE`, …) is kept.
 *
 * @example
 * ```ts
 * import { listen, listenOptions } from "./listen_options.ts";
 * import { memoryAdapter } from "../adapters/memory.ts";
 * const adapter = memoryAdapter();
 * const options = listenOptions({ port: 1, fetch: () => new Response("hi") });
 * const listener = await listen(adapter, options, () => ({ onData() {}, onDrain() {}, onEnd() {}, onClose() {} }));
 * await listener.close();
 * ```
 */
export async function listen(
  adapter: SocketAdapter,
  options: ListenOptions,
  onConnection: Parameters<SocketAdapter["listen"]>[1],
): ReturnType<SocketAdapter["listen"]> {
  try {
    return await adapter.listen(options, onConnection);
  } catch (e) {
    const given = (e as { code?: unknown })?.code;
    const code = (await diagnose(options, given)) ?? given;
    const where = options.path !== undefined
      ? `unix socket ${options.path}`
      : `${options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname}:${options.port}`;
    let why = typeof code === "string" && Object.hasOwn(REASONS, code) ? REASONS[code] : firstLine(e);
    if (code === "EADDRINUSE" && options.path !== undefined) {
      why += " (a socket file is there: remove it if no server uses it)";
    }
    const error = new Error(`portico: cannot listen on ${where}: ${why}`, { cause: e });
    if (typeof code === "string") (error as Error & { code?: string }).code = code;
    throw error;
  }
}

// A code for a failure the runtime gave none (Deno and Bun name no code for
// a host that does not resolve, Bun says only "Failed to listen"), or a
// truer one (Node says EACCES for a unix socket in a missing directory).
async function diagnose(options: ListenOptions, given: unknown): Promise<string | undefined> {
  if (options.path !== undefined) {
    try {
      return existsSync(dirname(options.path)) ? undefined : "ENOENT";
    } catch {
      return undefined; // not allowed to look (Deno without --allow-read): the runtime's reason stands
    }
  }
  if (typeof given === "string" || parseIp(options.hostname) !== null) return undefined;
  try {
    await lookup(options.hostname);
    return undefined;
  } catch {
    return "ENOTFOUND";
  }
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n", 1)[0];
}
