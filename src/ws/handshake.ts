/**
 * The server side of the opening handshake (RFC 6455 §4.2): what makes a
 * request a valid WebSocket upgrade, and the 101 answer's fields.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type DeflateParams, deflateResponseHeader, negotiateDeflate } from "./deflate.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** 16 bytes in base64: 22 significant characters, and the last one carries only 2 bits. */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** `Sec-WebSocket-Accept` for a key (SHA-1 of the key and the RFC's GUID, in base64). */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** A request that is not a valid upgrade: the status and fields to answer with. */
export interface HandshakeRefusal {
  /** 400, 426 (wrong version) or 405 (not GET). */
  status: number;
  /** What was wrong, one line. */
  message: string;
  /** Fields for the answer (426 carries `Sec-WebSocket-Version: 13`). */
  headers: [string, string][];
}

/** A valid upgrade: the 101's fields and what was agreed. */
export interface HandshakeAccept {
  /** The 101's fields. */
  headers: [string, string][];
  /** The selected subprotocol, or "". */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` value sent, or "". */
  extensions: string;
  /** permessage-deflate parameters, when agreed. */
  deflate: DeflateParams | undefined;
}

function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const t of value.split(",")) if (t.trim().toLowerCase() === token) return true;
  return false;
}

/**
 * Checks an upgrade request and builds the 101's fields, or says why it is
 * refused. `protocols`: the subprotocols the server speaks, by preference; the
 * first one the client also offered is selected.
 */
export function handshake(
  req: Request,
  protocols: readonly string[],
  compress: boolean,
): HandshakeAccept | HandshakeRefusal {
  const refuse = (status: number, message: string, headers: [string, string][] = []): HandshakeRefusal => ({
    status,
    message,
    headers,
  });
  if (req.method !== "GET") return refuse(405, "a WebSocket handshake must be a GET request", [["allow", "GET"]]);
  const h = req.headers;
  if (!hasToken(h.get("upgrade"), "websocket")) return refuse(400, "Upgrade: websocket is missing");
  if (!hasToken(h.get("connection"), "upgrade")) return refuse(400, "Connection: upgrade is missing");
  const version = h.get("sec-websocket-version");
  if (version === null) {
    return refuse(426, "Sec-WebSocket-Version is missing", [["sec-websocket-version", "13"]]);
  }
  if (version.trim() !== "13") {
    return refuse(426, `unsupported Sec-WebSocket-Version ${JSON.stringify(version)}`, [[
      "sec-websocket-version",
      "13",
    ]]);
  }
  const key = h.get("sec-websocket-key");
  if (key === null) return refuse(400, "Sec-WebSocket-Key is missing");
  if (!KEY.test(key.trim())) return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");

  const headers: [string, string][] = [
    ["upgrade", "websocket"],
    ["connection", "Upgrade"],
    ["sec-websocket-accept", acceptKey(key.trim())],
  ];
  let protocol = "";
  const offered = h.get("sec-websocket-protocol");
  if (offered !== null && protocols.length > 0) {
    const list = offered.split(",").map((s) => s.trim());
    protocol = protocols.find((p) => list.includes(p)) ?? "";
    if (protocol) headers.push(["sec-websocket-protocol", protocol]);
  }
  const deflate = compress ? negotiateDeflate(h.get("sec-websocket-extensions")) : undefined;
  const extensions = deflate ? deflateResponseHeader(deflate) : "";
  if (extensions) headers.push(["sec-websocket-extensions", extensions]);
  return { headers, protocol, extensions, deflate };
}
