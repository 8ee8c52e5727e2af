// The reference side of the differential fuzzer: Node's bundled llhttp,
// through the binding node:http itself uses, with every lenient flag off.
// Node only (process.binding is deprecated but still the one way to reach
// llhttp without reimplementing it); the warning is silenced once.

/** @typedef {import("./outcome.mjs").Outcome} Outcome */

import { createRequire } from "node:module";

let binding = null;

/**
 * Node's llhttp binding: `process.binding` up to Node 22; from Node 24,
 * which removed it, `internalBinding` under `--expose-internals`.
 */
export function llhttpBinding() {
  if (binding !== null) return binding;
  const emit = process.emitWarning;
  process.emitWarning = () => {};
  try {
    binding = process.binding("http_parser");
  } catch {
    try {
      binding = createRequire(import.meta.url)("internal/test/binding").internalBinding("http_parser");
    } catch {
      throw new Error(
        `the fuzzer's reference is Node's own llhttp, which ${process.version} no longer exposes through ` +
          "process.binding: run it with node --expose-internals (or under Node 20 or 22)",
      );
    }
  } finally {
    process.emitWarning = emit;
  }
  return binding;
}

/**
 * Runs `bytes` through a fresh strict llhttp request parser, cut at `cuts`
 * (ascending offsets), and reports what it made of them.
 * @param {Uint8Array} bytes
 * @param {number[]} [cuts]
 * @returns {Outcome}
 */
export function llhttpOutcome(bytes, cuts = []) {
  const { HTTPParser, methods } = llhttpBinding();
  const p = new HTTPParser();
  const messages = [];
  let current = null;
  let inMessage = false;
  let stopped = null; // "closed" | "upgrade" once llhttp hands the connection off
  let pendingHeaders = [];
  let pendingUrl = "";
  p[HTTPParser.kOnMessageBegin] = () => {
    inMessage = true;
  };
  p[HTTPParser.kOnHeaders] = (headers, url) => {
    pendingHeaders = pendingHeaders.concat(headers);
    pendingUrl += url;
  };
  p[HTTPParser.kOnHeadersComplete] = (_maj, _min, headers, method, url, _sc, _sm, upgrade, keepAlive) => {
    if (stopped !== null) return 0;
    current = {
      method: methods[method],
      target: url || pendingUrl,
      headers: headers ?? pendingHeaders,
      body: "",
      keepAlive: !!keepAlive,
      upgrade: !!upgrade,
    };
    pendingHeaders = [];
    pendingUrl = "";
    if (upgrade) {
      // Not compared beyond the head (see isUpgrade in outcome.mjs).
      const { keepAlive: _k, upgrade: _u, ...m } = current;
      messages.push(m);
      stopped = "upgrade";
    }
    return 0;
  };
  p[HTTPParser.kOnBody] = (b) => {
    if (stopped !== null) return;
    current.body += Buffer.from(b).toString("latin1");
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    if (stopped !== null) return;
    inMessage = false;
    // Trailer fields come through kOnHeaders; they are not compared.
    pendingHeaders = [];
    pendingUrl = "";
    const { keepAlive, upgrade: _u, ...m } = current;
    messages.push(m);
    if (!keepAlive) stopped = "closed";
  };
  p[HTTPParser.kOnExecute] = () => {};
  p.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let from = 0;
  for (const to of [...cuts, buf.length]) {
    const r = p.execute(buf.subarray(from, to));
    from = to;
    if (stopped !== null) break;
    if (r instanceof Error) {
      p.close?.();
      return { messages, end: "error", code: r.code };
    }
  }
  p.close?.();
  if (stopped !== null) return { messages, end: stopped };
  return { messages, end: inMessage ? "incomplete" : "idle" };
}
