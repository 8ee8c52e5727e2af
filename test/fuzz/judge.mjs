// Judges one input: compares portico's outcome with llhttp's, names the kind
// of difference, and sorts an accepted difference into one of the classes
// documented in DIVERGENCES.md (the allow-list).

import { llhttpBinding } from "./llhttp.mjs";

/** @typedef {import("./outcome.mjs").Outcome} Outcome */
/** @typedef {import("./outcome.mjs").Message} Message */
/** @typedef {{ portico: (bytes: Uint8Array) => Outcome, llhttp: (bytes: Uint8Array) => Outcome }} Runners */
/**
 * @typedef {{
 *   kind: "framing" | "split" | "end" | "portico-rejects" | "llhttp-rejects",
 *   index: number,
 * }} Difference
 *   `framing`: both parsers framed message `index` but differently, or one
 *   completed a message the other still waits on; `split`: portico gave a
 *   different outcome for the same bytes cut differently; `end`: same
 *   messages, different ending (closed, upgrade, idle, incomplete); the
 *   `-rejects` kinds: that parser refused message `index`, the other did not.
 */

const sameMessage = (a, b, body = true) =>
  a.method === b.method && a.target === b.target && (!body || a.body === b.body) &&
  a.headers.length === b.headers.length && a.headers.every((h, k) => h === b.headers[k]);

/** Whether two portico outcomes are the same (messages, ending, code). */
export function sameOutcome(a, b) {
  return a.end === b.end && a.code === b.code && a.messages.length === b.messages.length &&
    a.messages.every((m, k) => sameMessage(m, b.messages[k]));
}

/**
 * How portico's outcome `p` differs from llhttp's `l`, or null when they agree.
 * @param {Outcome} p
 * @param {Outcome} l
 * @returns {Difference | null}
 */
export function compare(p, l) {
  const np = p.messages.length;
  const nl = l.messages.length;
  for (let k = 0; k < Math.min(np, nl); k++) {
    // An upgrade request is compared up to its head (see isUpgrade in outcome.mjs).
    const body = !(k === np - 1 && p.end === "upgrade") && !(k === nl - 1 && l.end === "upgrade");
    if (!sameMessage(p.messages[k], l.messages[k], body)) return { kind: "framing", index: k };
  }
  if (np === nl) {
    if (p.end === l.end) return null;
    // One side ends the connection after the last message, the other reads on.
    if (p.end === "closed" || p.end === "upgrade" || l.end === "closed" || l.end === "upgrade") {
      return { kind: "end", index: np };
    }
    if (p.end === "error") return { kind: "portico-rejects", index: np };
    if (l.end === "error") return { kind: "llhttp-rejects", index: nl };
    return { kind: "end", index: np };
  }
  // One side framed more messages: the other must have stopped for a reason.
  const [short, n, kind] = np < nl ? [p, np, "portico-rejects"] : [l, nl, "llhttp-rejects"];
  if (short.end === "error") return { kind, index: n };
  if (short.end === "closed" || short.end === "upgrade") return { kind: "end", index: n };
  return { kind: "framing", index: n };
}

// llhttp's method list (strict mode accepts these and nothing else).
let llhttpMethods = null;
function knownMethods() {
  if (llhttpMethods === null) {
    llhttpMethods = new Set(llhttpBinding().methods);
  }
  return llhttpMethods;
}

const latin1 = (bytes) => {
  let s = "";
  for (let k = 0; k < bytes.length; k++) s += String.fromCharCode(bytes[k]);
  return s;
};

// The raw head of message `index`: from the end of the message before it
// (leading empty lines skipped) to its empty line, or to the end of input.
function rawHead(input, p, index) {
  const from = index === 0 ? 0 : p.ends[index - 1];
  const text = latin1(input.subarray(from)).replace(/^(\r\n)+/, "");
  const end = text.indexOf("\r\n\r\n");
  return end < 0 ? text : text.slice(0, end + 2);
}

// Field values of `name` in a raw head, untrimmed (the request line is skipped).
function rawValues(head, name) {
  const out = [];
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).toLowerCase() === name) out.push(line.slice(colon + 1));
  }
  return out;
}

/**
 * The classes of accepted differences, by id (each one a row of
 * DIVERGENCES.md). Each test gets the input, both outcomes, the
 * difference and a way to run either parser on other bytes, and says
 * whether the difference is of its class.
 * @type {Record<string, (input: Uint8Array, p: Outcome, l: Outcome, d: Difference, run: Runners) => boolean>}
 */
export const CLASSES = {
  // portico refuses what llhttp's parser-level view lets through.
  "host": (_i, p, _l, d) =>
    d.kind === "portico-rejects" && (p.code === "MISSING_HOST" || p.code === "INVALID_HOST"),
  "refused-methods": (_i, p, _l, d) => d.kind === "portico-rejects" && p.code === "METHOD_NOT_SUPPORTED",
  "expectation": (_i, p, _l, d) => d.kind === "portico-rejects" && p.code === "UNSUPPORTED_EXPECTATION",
  "versions": (input, p, _l, d) =>
    d.kind === "portico-rejects" &&
    (p.code === "UNSUPPORTED_VERSION" || p.code === "HTTP2_PREFACE" ||
      // an HTTP/0.9 request line: method and target, then the line ends
      (p.code === "INVALID_VERSION" && /^[^ \r\n]+ [^ \r\n]+\r?(\n|$)/.test(rawHead(input, p, d.index)))),
  "target-form": (_i, p, _l, d) => d.kind === "portico-rejects" && p.code === "INVALID_TARGET",
  "limits": (_i, p, _l, d) =>
    d.kind === "portico-rejects" &&
    (p.code === "BODY_TOO_LARGE" || p.code === "URI_TOO_LONG" || p.code === "HEADERS_TOO_LARGE" ||
      (p.code === "INVALID_CHUNK_SIZE" && p.reason === "chunk size too large") ||
      (p.code === "INVALID_CHUNK_EXTENSION" && p.reason === "chunk extensions too long")),
  "request-line-spaces": (input, p, _l, d) =>
    d.kind === "portico-rejects" && (p.code === "INVALID_VERSION" || p.code === "INVALID_TARGET") &&
    /^[^\r\n]* {2}/.test(rawHead(input, p, d.index)),
  "chunk-extensions": (_i, p, _l, d) => d.kind === "portico-rejects" && p.code === "INVALID_CHUNK_EXTENSION",
  "transfer-coding": (input, p, _l, d) =>
    d.kind === "portico-rejects" &&
    (p.code === "INVALID_TRANSFER_ENCODING" ||
      // an empty Transfer-Encoding is still one, and conflicts with Content-Length
      (p.code === "CONTENT_LENGTH_AND_TRANSFER_ENCODING" &&
        rawValues(rawHead(input, p, d.index), "transfer-encoding").join(",").replace(/[\s,]/g, "") === "")),
  "stray-cr-lf": (input, p, l, d) => {
    // The refused message, or the end of the input, starts with a lone CR or
    // LF among its leading empty lines.
    const from = d.index === 0 ? 0 : p.ends[d.index - 1];
    const lead = /^[\r\n]*/.exec(latin1(input.subarray(from)))[0];
    if (lead.replace(/\r\n/g, "") === "") return false;
    if (d.kind === "portico-rejects") return p.code === "LF_EXPECTED";
    return d.kind === "end" && p.end === "incomplete" && l.end === "idle" && from + lead.length === input.length;
  },
  "close-wins": (input, p, _l, d) =>
    d.kind === "end" && p.end === "closed" &&
    rawValues(rawHead(input, p, d.index - 1), "connection").join(",").split(",")
      .some((t) => t.trim().toLowerCase() === "close"),
  // portico accepts what llhttp refuses.
  "method-tokens": (input, p, l, d) => {
    if (d.kind !== "llhttp-rejects" || l.code !== "HPE_INVALID_METHOD") return false;
    const method = /^[^ \r\n]*/.exec(rawHead(input, p, d.index))[0];
    return !knownMethods().has(method);
  },
  "h2-preface": (input, p, l, d) =>
    d.kind === "llhttp-rejects" && l.code === "HPE_INVALID_VERSION" && p.end === "incomplete" &&
    rawHead(input, p, d.index).startsWith("PRI "),
  "minor-versions": (input, p, l, d) =>
    d.kind === "llhttp-rejects" && l.code === "HPE_INVALID_VERSION" &&
    / HTTP\/1\.[2-9](\r|$)/.test(rawHead(input, p, d.index).split("\n")[0]),
  "ows-htab": (input, p, l, d) => {
    if (d.kind === "end") {
      // llhttp does not see "keep-alive<TAB>" or "upgrade<TAB>" as the token
      return (l.end === "closed" || p.end === "upgrade") && d.index > 0 &&
        rawValues(rawHead(input, p, d.index - 1), "connection").some((v) => /\t/.test(v));
    }
    const head = rawHead(input, p, d.index);
    return d.kind === "llhttp-rejects" &&
      (l.code === "HPE_INVALID_CONTENT_LENGTH" || l.code === "HPE_INVALID_TRANSFER_ENCODING") &&
      [...rawValues(head, "content-length"), ...rawValues(head, "transfer-encoding")].some((v) => /\t/.test(v));
  },
  "te-empty-elements": (input, p, l, d) =>
    d.kind === "llhttp-rejects" && l.code === "HPE_INVALID_TRANSFER_ENCODING" &&
    rawValues(rawHead(input, p, d.index), "transfer-encoding").join(",").split(",").some((e) => e.trim() === ""),
  "trailer-fields": (input, p, l, d) => {
    if (d.kind !== "llhttp-rejects") return false;
    // llhttp reads a Connection: close in the trailer, and refuses what follows.
    const index = l.code === "HPE_CLOSED_CONNECTION" ? d.index - 1 : d.index;
    if (index < 0 || (l.code !== "HPE_CLOSED_CONNECTION" && !SAME_FAULT[l.code])) return false;
    if (p.messages.length <= index && p.end !== "incomplete") return false;
    // The message (complete or not) from its last chunk on: the trailer section.
    const from = index === 0 ? 0 : p.ends[index - 1];
    const message = latin1(input.subarray(from, p.ends[index] ?? input.length));
    const last = [...message.matchAll(/\r\n0+(?:;[^\r\n]*)?\r\n/g)].at(-1);
    if (last === undefined || !/transfer-encoding:\s*[^\r]*chunked/i.test(rawHead(input, p, index))) return false;
    return /(^|\n)(content-length|transfer-encoding|connection):/i.test(message.slice(last.index + last[0].length));
  },
  // Both refuse the same fault, one a few bytes before the other: given the
  // rest of the message, the slower one refuses it too.
  "same-fault-other-byte": (input, p, l, d, run) => {
    const [early, late, lateRun] = d.kind === "llhttp-rejects"
      ? [l, p, run.portico]
      : d.kind === "portico-rejects"
      ? [p, l, run.llhttp]
      : [null, null, null];
    if (early === null || late.end !== "incomplete" || late.messages.length !== d.index) return false;
    // A target llhttp refuses at its first bytes that no completion makes
    // origin-form, "*" or http(s) absolute-form: portico refuses the head.
    if (l.code === "HPE_INVALID_URL") {
      const target = (/^[^ \r\n]+ ([^ \r\n]*)/.exec(rawHead(input, p, d.index)) ?? [])[1] ?? "";
      const t = target.toLowerCase();
      if (
        target !== "" && target[0] !== "/" && target !== "*" && !"http://".startsWith(t.slice(0, 7)) &&
        !"https://".startsWith(t.slice(0, 8))
      ) return true;
    }
    // Framing fields that portico refuses at the end of the head, whatever
    // follows: chunked before another coding, or Content-Length with
    // Transfer-Encoding (the complete lines seen so far).
    if (l.code === "HPE_INVALID_TRANSFER_ENCODING" || l.code === "HPE_INVALID_CONTENT_LENGTH") {
      const head = rawHead(input, p, d.index);
      const done = head.slice(0, head.lastIndexOf("\r\n") + 2);
      const codings = rawValues(done, "transfer-encoding").join(",").split(",").map((c) => c.trim().toLowerCase())
        .filter((c) => c !== "");
      const chunked = codings.indexOf("chunked");
      if (chunked >= 0 && chunked < codings.length - 1) return true;
      if (codings.length > 0 && rawValues(done, "content-length").length > 0) return true;
    }
    return tails(input).some((tail) => {
      const o = lateRun(concat(input, tail));
      return o.end === "error" && o.messages.length === d.index && sameFault(p.code ?? o.code, l.code ?? o.code);
    });
  },
};

// Ways to finish an unfinished head, for "same-fault-other-byte": end the
// line as it is, as a field, or as the rest of a request line; with a Host
// and without.
function tails(input) {
  const last = input[input.length - 1];
  if (last === 0x0a) return ["Host: a\r\n\r\n", "\r\n"];
  const ends = ["\r\nHost: a\r\n\r\n", ":\r\nHost: a\r\n\r\n", "\r\n\r\n", ":\r\n\r\n"];
  if (last === 0x0d) return ends.filter((e) => e.startsWith("\r")).map((e) => e.slice(1));
  return [...ends, " HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1\r\nHost: a\r\n\r\n"];
}

// llhttp's error codes and the portico codes for the same fault.
const SAME_FAULT = {
  HPE_INVALID_CONTENT_LENGTH: ["INVALID_CONTENT_LENGTH", "CONTENT_LENGTH_AND_TRANSFER_ENCODING"],
  HPE_UNEXPECTED_CONTENT_LENGTH: ["INVALID_CONTENT_LENGTH", "CONTENT_LENGTH_AND_TRANSFER_ENCODING"],
  HPE_INVALID_TRANSFER_ENCODING: ["INVALID_TRANSFER_ENCODING", "CONTENT_LENGTH_AND_TRANSFER_ENCODING"],
  HPE_INVALID_URL: ["INVALID_TARGET"],
  HPE_INVALID_CHUNK_SIZE: ["INVALID_CHUNK_SIZE"],
};
const sameFault = (porticoCode, llhttpCode) => SAME_FAULT[llhttpCode]?.includes(porticoCode) ?? false;


function concat(bytes, text) {
  const out = new Uint8Array(bytes.length + text.length);
  out.set(bytes);
  for (let k = 0; k < text.length; k++) out[bytes.length + k] = text.charCodeAt(k);
  return out;
}

/**
 * The id of the class `d` belongs to, or null when it belongs to none (a
 * finding). Framing and split differences never belong to a class.
 * @returns {string | null}
 */
export function classify(input, p, l, d, run) {
  if (d.kind === "framing" || d.kind === "split") return null;
  for (const [id, test] of Object.entries(CLASSES)) if (test(input, p, l, d, run)) return id;
  return null;
}

/**
 * The ids in the "Accepted divergences" table of DIVERGENCES.md: its rows
 * whose first cell is an id in backticks.
 * @param {string} markdown
 * @returns {Set<string>}
 */
export function allowList(markdown) {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Accepted divergences")) ?? "";
  const ids = new Set();
  for (const m of section.matchAll(/^\|\s*`([a-z0-9-]+)`\s*\|/gm)) ids.add(m[1]);
  return ids;
}
