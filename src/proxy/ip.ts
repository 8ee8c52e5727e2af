/**
 * IP addresses and CIDR ranges, for `trustProxy` and the PROXY protocol:
 * parsing to bytes, printing, and matching. IPv4-mapped IPv6 addresses
 * (`::ffff:10.0.0.1`, what a dual-stack listener reports for IPv4 peers)
 * match as the IPv4 address they carry.
 *
 * @module
 */

/** The bytes of an IPv4 (4) or IPv6 (16) address in text form, or null if it is not one. */
export function parseIp(text: string): Uint8Array | null {
  if (text.includes(":")) return parseIp6(text);
  return parseIp4(text);
}

function parseIp4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    // Decimal only, no leading zeros: "010" is octal to some parsers.
    if (!/^(?:0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseIp6(text: string): Uint8Array | null {
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  const push = (list: string[], last: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (last && i === list.length - 1 && g.includes(".")) {
        const v4 = parseIp4(g);
        if (!v4) return false;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
        words.push(parseInt(g, 16));
      }
    }
    return true;
  };
  if (!push(head, halves.length === 1)) return null;
  const headWords = words.length;
  if (!push(tail, true)) return null;
  const tailWords = words.length - headWords;
  if (halves.length === 1 ? words.length !== 8 : words.length > 7) return null;
  const out = new Uint8Array(16);
  const fill = (from: number, list: number[]) => {
    for (let i = 0; i < list.length; i++) {
      out[from + 2 * i] = list[i] >> 8;
      out[from + 2 * i + 1] = list[i] & 0xff;
    }
  };
  fill(0, words.slice(0, headWords));
  fill(16 - 2 * tailWords, words.slice(headWords));
  return out;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address, or the address itself. */
export function unmap(ip: Uint8Array): Uint8Array {
  if (ip.length !== 16) return ip;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return ip;
  if (ip[10] !== 0xff || ip[11] !== 0xff) return ip;
  return ip.subarray(12);
}

/** The text form of an address's bytes: dotted quad, or RFC 5952 IPv6. */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((ip[i] << 8) | ip[i + 1]);
  // The longest run of two or more zero words becomes "::" (the first, on a tie).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return hex(words.slice(0, best)) + "::" + hex(words.slice(best + bestLen));
}

/** A set of addresses and CIDR ranges. */
export class IpMatcher {
  #ranges: { bytes: Uint8Array; bits: number }[] = [];

  /** Parses `entries` ("10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"); throws a TypeError naming a bad one. */
  constructor(entries: string[]) {
    for (const entry of entries) {
      const slash = entry.indexOf("/");
      const ip = parseIp(slash < 0 ? entry.trim() : entry.slice(0, slash).trim());
      const bits = slash < 0 ? undefined : entry.slice(slash + 1).trim();
      const bytes = ip && unmap(ip);
      const max = bytes ? bytes.length * 8 : 0;
      const n = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
      // A mapped IPv6 prefix counts its bits from the mapped IPv4 part.
      const adjusted = bytes && ip && bytes.length !== ip.length && bits !== undefined ? n - 96 : n;
      if (!bytes || !(adjusted >= 0 && adjusted <= max)) {
        throw new TypeError(`trustProxy: not an IP address or CIDR range: ${JSON.stringify(entry)}`);
      }
      this.#ranges.push({ bytes, bits: adjusted });
    }
  }

  /** Whether `address` (text) is in one of the ranges. */
  has(address: string): boolean {
    const parsed = parseIp(address);
    if (!parsed) return false;
    const ip = unmap(parsed);
    for (const { bytes, bits } of this.#ranges) {
      if (bytes.length !== ip.length) continue;
      let i = 0;
      for (; i < bits >> 3; i++) if (bytes[i] !== ip[i]) break;
      if (i < bits >> 3) continue;
      const rest = bits & 7;
      if (rest === 0 || ((bytes[i] ^ ip[i]) & (0xff << (8 - rest)) & 0xff) === 0) return true;
    }
    return false;
  }
}
