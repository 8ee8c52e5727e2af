// Shared pieces of the benchmark targets. Plain JavaScript that node, deno
// and bun all run as it is. Every target listens on 127.0.0.1, port 0, and
// prints `LISTENING <port>` once it accepts connections; the harness
// (bench/run.mjs) waits for that line and kills the process with SIGKILL
// when it is done with it.
//
// Every target answers the same requests, with the same handler code where
// the API allows it:
//   GET  /           "Hello, World!" (text/plain;charset=UTF-8)
//   GET  /64k        65,536 bytes (application/octet-stream)
//   POST /echo       the request body, read whole, sent back with its length
//   GET  /users/:id  {"id":"<id>","name":"user <id>"} (application/json)

import process from "node:process";

/** "node" | "deno" | "bun" */
export const runtime = typeof globalThis.Deno !== "undefined"
  ? "deno"
  : typeof globalThis.Bun !== "undefined"
  ? "bun"
  : "node";

export const HELLO = "Hello, World!";
export const BIG = new Uint8Array(64 * 1024).fill(0x61); // "aaaa…", 64 KiB

/** Idle keep-alive connections are kept this long by every target that has a setting for it. */
export const KEEPALIVE_MS = 120_000;

export function listening(port) {
  console.log(`LISTENING ${port}`);
  // For profiling by hand: exit normally after this many seconds, so that
  // --cpu-prof writes its profile (a kill would not).
  const after = Number(process.env.BENCH_EXIT_AFTER ?? 0);
  if (after > 0) setTimeout(() => process.exit(0), after * 1000);
}

/** portico's entry for this runtime: dist/mod.js under node (v20 does not strip types), src/mod.ts elsewhere. */
export async function loadPortico() {
  const entry = process.env.PORTICO_ENTRY ??
    (runtime === "node" ? "../../dist/mod.js" : "../../src/mod.ts");
  const url = entry.startsWith(".") ? new URL(entry, import.meta.url).href : new URL(entry, `file://${process.cwd()}/`).href;
  return await import(url);
}

/** The path (with query) of a Fetch request's absolute URL, without building a URL object. */
function pathOf(url) {
  const i = url.indexOf("/", url.indexOf("//") + 2);
  return i < 0 ? "/" : url.slice(i);
}

/**
 * The plain Fetch handler used by portico, Deno.serve and Bun.serve "hello"
 * targets: the same code on every server.
 */
export function fetchHandler(request) {
  const path = pathOf(request.url);
  if (path === "/") return new Response(HELLO);
  if (path === "/64k") return new Response(BIG, { headers: { "content-type": "application/octet-stream" } });
  if (path === "/echo" && request.method === "POST") {
    return request.arrayBuffer().then((body) =>
      new Response(body, { headers: { "content-type": "application/octet-stream" } })
    );
  }
  if (path.startsWith("/users/")) {
    const id = path.slice(7);
    return Response.json({ id, name: `user ${id}` });
  }
  return new Response("Not Found", { status: 404 });
}

/**
 * A fast "\r\n\r\n" counter for the raw-socket ceilings: it tells how many
 * request heads ended in a chunk, across chunk boundaries, with no parsing.
 * (Request bodies in the benchmark never contain "\r\n\r\n".)
 * Returns a function chunk -> count, holding the partial match between calls.
 */
export function headCounter() {
  let s = 0; // how much of "\r\n\r\n" the previous chunk ended with
  return (b) => {
    const len = b.length;
    let n = 0;
    let i = 0;
    if (s > 0) {
      // Continue the partial match byte by byte (at most three bytes).
      while (s > 0 && i < len) {
        const c = b[i];
        const want = s === 2 ? 13 : 10;
        if (c === want) {
          s++;
          i++;
          if (s === 4) {
            n++;
            s = 0;
          }
        } else {
          s = 0; // rescan from i: c itself may start a new match
        }
      }
      if (i === len) return n;
    }
    for (;;) {
      const j = b.indexOf(13, i);
      if (j < 0 || j + 3 >= len) break;
      if (b[j + 1] === 10 && b[j + 2] === 13 && b[j + 3] === 10) {
        n++;
        i = j + 4;
      } else {
        i = j + 1;
      }
    }
    // Remember how much of a match the chunk ends with.
    if (len >= 3 && b[len - 3] === 13 && b[len - 2] === 10 && b[len - 1] === 13 && len - 3 >= i) s = 3;
    else if (len >= 2 && b[len - 2] === 13 && b[len - 1] === 10 && len - 2 >= i) s = 2;
    else if (len >= 1 && b[len - 1] === 13 && len - 1 >= i) s = 1;
    else s = 0;
    return n;
  };
}

/**
 * The fixed response of a raw-socket ceiling. BENCH_RAW_BODY picks the body
 * so that each scenario's ceiling sends as many bytes as the real servers:
 * hello (13 bytes, the default), 64k, echo (1 KiB), json.
 */
export function rawResponse() {
  const kind = process.env.BENCH_RAW_BODY ?? "hello";
  const te = new TextEncoder();
  let body;
  let type;
  if (kind === "64k") {
    body = BIG;
    type = "application/octet-stream";
  } else if (kind === "echo") {
    body = new Uint8Array(1024).fill(0x78);
    type = "application/octet-stream";
  } else if (kind === "json") {
    body = te.encode(JSON.stringify({ id: "42", name: "user 42" }));
    type = "application/json";
  } else {
    body = te.encode(HELLO);
    type = "text/plain;charset=UTF-8";
  }
  const head = te.encode(`HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\n\r\n`);
  const one = new Uint8Array(head.length + body.length);
  one.set(head, 0);
  one.set(body, head.length);
  // n copies, for n pipelined requests ended in one chunk; cached.
  const cache = [null, one];
  return (n) => {
    let r = cache[n];
    if (r === undefined || r === null) {
      r = new Uint8Array(one.length * n);
      for (let k = 0; k < n; k++) r.set(one, k * one.length);
      if (n < 64) cache[n] = r;
    }
    return r;
  };
}
