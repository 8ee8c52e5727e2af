// What a parser made of some bytes, in a form both sides of the differential
// fuzzer can produce: the messages it framed, and how the input ended.

/**
 * @typedef {{ method: string, target: string, headers: string[], body: string }} Message
 *   One framed request: header fields flattened (name, value, …) as
 *   received, the body de-chunked, as latin1 text (one char per byte).
 * @typedef {{ messages: Message[], end: "idle" | "incomplete" | "closed" | "upgrade" | "error", code?: string, reason?: string, ends?: number[] }} Outcome
 *   `closed`: a message said the connection ends after it; `upgrade`: a
 *   message asked to switch protocols (the bytes after it are not HTTP);
 *   `error`: the input was rejected, with the parser's code. `reason` and
 *   `ends` (portico only, not compared): the offset after each message, for the classifiers.
 */

/**
 * Whether the message asks llhttp's way to leave HTTP: CONNECT, or a
 * non-empty Upgrade with a Connection "upgrade" token. From its head on, the
 * two parsers are not compared: Node hands such a connection to the upgrade
 * handler at the head, and llhttp does not check the rest like a body.
 */
export function isUpgrade(method, headers) {
  if (method === "CONNECT") return true;
  let upgrade = false;
  let token = false;
  for (let k = 0; k < headers.length; k += 2) {
    const name = headers[k].toLowerCase();
    if (name === "upgrade" && headers[k + 1] !== "") upgrade = true;
    else if (name === "connection") {
      if (headers[k + 1].split(",").some((t) => t.trim().toLowerCase() === "upgrade")) token = true;
    }
  }
  return upgrade && token;
}

/**
 * Runs `bytes` through a fresh portico `RequestParser` (the class is passed
 * in, so that the test can use the sources and the CLI the build), cut at
 * `cuts`, re-feeding after each message as the server does.
 * @param {typeof import("../../src/http/parser.ts").RequestParser} RequestParser
 * @param {Uint8Array} bytes
 * @param {number[]} [cuts]
 * @param {Partial<import("../../src/http/parser.ts").ParserLimits>} [limits]
 * @returns {Outcome}
 */
export function porticoOutcome(RequestParser, bytes, cuts = [], limits = {}) {
  const messages = [];
  let current = null;
  let stopped = null;
  let closeAfter = false;
  const p = new RequestParser({
    onHead: (head) => {
      if (stopped !== null) return;
      current = { method: head.method, target: head.target, headers: head.headers, body: "" };
      if (isUpgrade(head.method, head.headers)) {
        messages.push(current);
        stopped = "upgrade";
      } else closeAfter = !head.keepAlive;
    },
    onBody: (chunk) => {
      if (stopped === "upgrade") return;
      let s = "";
      for (let k = 0; k < chunk.length; k++) s += String.fromCharCode(chunk[k]);
      current.body += s;
    },
    onComplete: () => {
      if (stopped === "upgrade") return;
      messages.push(current);
      if (closeAfter) stopped = "closed";
    },
  }, limits);
  const ends = [];
  let from = 0;
  let consumed = 0;
  try {
    for (const to of [...cuts, bytes.length]) {
      let chunk = bytes.subarray(from, to);
      from = to;
      while (chunk.length > 0 && stopped === null) {
        const n = p.execute(chunk);
        chunk = chunk.subarray(n);
        consumed += n;
        // execute stops at the end of every message
        if (messages.length > ends.length) ends.push(consumed);
      }
      if (stopped !== null) return { messages, end: stopped, ends };
    }
  } catch (e) {
    if (typeof e?.code !== "string") throw e;
    if (stopped === "upgrade") return { messages, end: stopped, ends };
    return { messages, end: "error", code: e.code, reason: e.message, ends };
  }
  return { messages, end: p.idle ? "idle" : "incomplete", ends };
}
