/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2), which a
 * load balancer sends first on every connection to say whom it accepted it
 * from. Parsed from the bytes received so far: more is needed, a header was
 * found (and how many bytes it took), or the bytes are not a valid header.
 *
 * @module
 */

import type { NetAddr } from "../adapter.ts";
import { formatIp, parseIp } from "./ip.ts";

/** What parsing the start of a connection found. */
export type ProxyHeader =
  | { kind: "more" }
  | { kind: "invalid"; reason: string }
  /** `source`/`destination` are absent for LOCAL (v2), UNKNOWN (v1) and non-TCP families: keep the socket's. */
  | { kind: "header"; length: number; source?: NetAddr; destination?: NetAddr };

const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const V1_PREFIX = "PROXY ";
/** The spec's bound on a v1 line, CRLF included. */
const V1_MAX = 107;
/** The largest v2 header accepted (addresses plus TLVs); the spec allows 64 KiB, nothing sends that much. */
const V2_MAX = 16 + 2048;

/** Parses a PROXY v1 or v2 header at the start of `bytes`. */
export function parseProxyHeader(bytes: Uint8Array): ProxyHeader {
  if (bytes.length === 0) return { kind: "more" };
  if (bytes[0] === 0x0d) return parseV2(bytes);
  if (bytes[0] === 0x50) return parseV1(bytes);
  return { kind: "invalid", reason: "the connection does not start with a PROXY protocol header" };
}

function parseV1(bytes: Uint8Array): ProxyHeader {
  const n = Math.min(bytes.length, V1_MAX);
  for (let i = 0; i < Math.min(n, V1_PREFIX.length); i++) {
    if (bytes[i] !== V1_PREFIX.charCodeAt(i)) {
      return { kind: "invalid", reason: "the connection does not start with a PROXY protocol header" };
    }
  }
  let end = -1;
  for (let i = 0; i < n - 1; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return bytes.length >= V1_MAX
      ? { kind: "invalid", reason: "PROXY v1 line longer than 107 bytes" }
      : { kind: "more" };
  }
  let line = "";
  for (let i = 0; i < end; i++) {
    if (bytes[i] < 0x20 || bytes[i] > 0x7e) return { kind: "invalid", reason: "PROXY v1 line is not printable ASCII" };
    line += String.fromCharCode(bytes[i]);
  }
  const length = end + 2;
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") return { kind: "header", length };
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    return { kind: "invalid", reason: `malformed PROXY v1 line: ${JSON.stringify(line)}` };
  }
  const [, family, src, dst, sport, dport] = parts;
  const size = family === "TCP4" ? 4 : 16;
  const s = parseIp(src), d = parseIp(dst);
  const sp = port(sport), dp = port(dport);
  if (!s || !d || s.length !== size || d.length !== size || sp < 0 || dp < 0) {
    return { kind: "invalid", reason: `malformed PROXY v1 line: ${JSON.stringify(line)}` };
  }
  return {
    kind: "header",
    length,
    source: { transport: "tcp", hostname: formatIp(s), port: sp },
    destination: { transport: "tcp", hostname: formatIp(d), port: dp },
  };
}

function port(text: string): number {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(text)) return -1;
  const n = Number(text);
  return n <= 65535 ? n : -1;
}

function parseV2(bytes: Uint8Array): ProxyHeader {
  for (let i = 0; i < Math.min(bytes.length, V2_SIGNATURE.length); i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) {
      return { kind: "invalid", reason: "the connection does not start with a PROXY protocol header" };
    }
  }
  if (bytes.length < 16) return { kind: "more" };
  const version = bytes[12] >> 4, command = bytes[12] & 0x0f;
  if (version !== 2) return { kind: "invalid", reason: `PROXY v2 header with version ${version}` };
  if (command > 1) return { kind: "invalid", reason: `PROXY v2 header with command ${command}` };
  const family = bytes[13];
  const length = 16 + ((bytes[14] << 8) | bytes[15]);
  if (length > V2_MAX) return { kind: "invalid", reason: `PROXY v2 header of ${length} bytes` };
  if (bytes.length < length) return { kind: "more" };
  // LOCAL (a health check from the proxy itself), or a family we do not
  // map (UDP, UNIX, UNSPEC): the spec says to use the socket's addresses.
  if (command === 0 || (family !== 0x11 && family !== 0x21)) return { kind: "header", length };
  const size = family === 0x11 ? 4 : 16;
  if (length < 16 + 2 * size + 4) return { kind: "invalid", reason: "PROXY v2 address block too short" };
  const src = bytes.subarray(16, 16 + size), dst = bytes.subarray(16 + size, 16 + 2 * size);
  const ports = 16 + 2 * size;
  return {
    kind: "header",
    length,
    source: { transport: "tcp", hostname: formatIp(src), port: (bytes[ports] << 8) | bytes[ports + 1] },
    destination: { transport: "tcp", hostname: formatIp(dst), port: (bytes[ports + 2] << 8) | bytes[ports + 3] },
  };
}
