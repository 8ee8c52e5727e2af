/**
 * `serve({ trustProxy })`: believe `X-Forwarded-For`, `X-Forwarded-Proto`
 * and `X-Forwarded-Host` from the peers named (addresses or CIDR ranges;
 * `true` means any peer). A wrapper around the handler:
 *
 * - `info.remoteAddr.hostname` becomes the nearest address in
 *   `X-Forwarded-For` that is not itself trusted (walking from the right,
 *   the hop our peer added, towards the left), or the leftmost when every
 *   one is trusted; its `port` becomes 0, as no header carries the client's.
 *   An entry that is not an IP address stops the walk: the hop before it
 *   (a trusted proxy) is the client as far as anyone can tell.
 * - `request.url` takes its scheme from `X-Forwarded-Proto` ("http" or
 *   "https") and its host from `X-Forwarded-Host`, when they form a valid
 *   URL; anything else is ignored. Of a list, the value the outermost
 *   trusted proxy added: with n trusted proxies (our peer and the trusted
 *   hops of the walk above, but for the leftmost when every hop is trusted:
 *   that one is the client), the nth from the right, or the first when the
 *   list is shorter (a proxy that sets the field rather than appending to
 *   it). Values left of it came from the client: Apache appends its own
 *   `X-Forwarded-Host` to the client's, and the first value made the
 *   client's `evil.example` the request's host.
 * - From a peer that is not trusted, and without the option, nothing
 *   changes: the headers stay plain headers.
 *
 * @module
 */

import type { NetAddr } from "../adapter.ts";
import type { Handler, ServeHandlerInfo } from "../types.ts";
import { headerOf, requestWithUrl } from "../server/request.ts";
import { formatIp, IpMatcher, parseIp, unmap } from "./ip.ts";

/**
 * Wraps `handler` so that requests from trusted peers see the addresses and
 * URL their proxies forwarded. Throws a TypeError for an entry that is not
 * an address or range.
 *
 * @example
 * ```ts
 * import { trustForwarded } from "./trust.ts";
 * const handler = trustForwarded((req, info) => new Response(info.remoteAddr.hostname), ["127.0.0.1", "10.0.0.0/8"]);
 * ```
 */
export function trustForwarded(handler: Handler, trust: true | string[]): Handler {
  const matcher = trust === true ? null : new IpMatcher(trust);
  const trusted = (address: string) => matcher === null || matcher.has(address);
  // A proxy sends the same few -Proto/-Host pairs and, per client, the same
  // -For: the last answers are kept (a URL parse is ~1 µs, an address's ~0.3).
  const origins = new OriginCache();
  let lastXff = "";
  let last: Hops = { client: null, proxies: 1 };
  return (request, info) => {
    // A unix socket's peer has no address: only `true` trusts it.
    const peer = info.remoteAddr;
    if (peer.transport !== "tcp" ? matcher !== null : !trusted(peer.hostname)) return handler(request, info);
    const xff = headerOf(request, "x-forwarded-for");
    if (xff !== null && xff !== lastXff) {
      last = walk(xff, trusted);
      lastXff = xff;
    }
    const proxies = xff === null ? 1 : last.proxies;
    const proto = addedBy(headerOf(request, "x-forwarded-proto"), proxies)?.toLowerCase();
    const host = addedBy(headerOf(request, "x-forwarded-host"), proxies);
    let req = request;
    if ((proto === "http" || proto === "https") || host) {
      const url = origins.forwarded(request.url, proto, host);
      if (url !== null && url !== request.url) req = requestWithUrl(request, url);
    }
    if (xff === null || last.client === null) return handler(req, info);
    return handler(req, new ForwardedInfo(info, { transport: "tcp", hostname: last.client, port: 0 }));
  };
}

/**
 * The request URL with the forwarded scheme and host, or null when they do
 * not form a valid URL. The path and query are kept as they are (the
 * request's URL is already in WHATWG form); the origin is worked out with
 * `URL` once per distinct origin, scheme and host, and kept for the next.
 */
class OriginCache {
  #from = "\0"; // the request URL's origin, which no URL starts with at first
  #proto: string | undefined;
  #host: string | undefined;
  #origin: string | null = null; // the forwarded one

  forwarded(url: string, proto: string | undefined, host: string | undefined): string | null {
    const from = this.#from;
    if (proto !== this.#proto || host !== this.#host || !url.startsWith(from) || url.charCodeAt(from.length) !== 47) {
      const end = url.indexOf("/", url.indexOf("//") + 2); // an http(s) URL always has a path
      if (end < 0) return null;
      const moved = forwardedUrl(url.slice(0, end + 1), proto, host);
      this.#from = url.slice(0, end);
      this.#proto = proto;
      this.#host = host;
      this.#origin = moved === null ? null : moved.slice(0, -1);
    }
    return this.#origin === null ? null : this.#origin + url.slice(this.#from.length);
  }
}

// The value of a list field that the outermost of `proxies` trusted proxies
// added (see the module docs); undefined for none or an empty one.
function addedBy(value: string | null, proxies: number): string | undefined {
  if (value === null) return undefined;
  let v: string;
  if (value.indexOf(",") < 0) v = value.trim();
  else {
    const values = value.split(",");
    v = values[Math.max(0, values.length - proxies)].trim();
  }
  return v === "" ? undefined : v;
}

/** What `X-Forwarded-For` says: the client, and how many trusted proxies (our peer included) forwarded it. */
interface Hops {
  /** The client as the trusted proxies saw it, in canonical text form; null if the header has no usable entry. */
  client: string | null;
  proxies: number;
}

function walk(xff: string, trusted: (a: string) => boolean): Hops {
  const hops = xff.split(",");
  let client: string | null = null;
  let proxies = 1;
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = parseIp(hops[i].trim());
    if (ip === null) break;
    client = formatIp(unmap(ip));
    if (!trusted(client)) break;
    // Every hop trusted: the leftmost is the client, not a proxy (with
    // `trustProxy: true` behind one appending proxy, counting it took the
    // client's own X-Forwarded-Host).
    if (i > 0) proxies++;
  }
  return { client, proxies };
}

function forwardedUrl(url: string, proto: string | undefined, host: string | undefined): string | null {
  try {
    const u = new URL(url);
    if (proto === "http" || proto === "https") u.protocol = proto + ":";
    if (host !== undefined) {
      // Validate as a whole authority: URL's host setter ignores what it cannot parse.
      const check = new URL(`${u.protocol}//${host}/`);
      if (check.username || check.password || check.pathname !== "/" || /[/?#@\\]/.test(host)) return null;
      u.hostname = check.hostname;
      u.port = check.port; // "" (the scheme's default) when -Host names none
    }
    return u.href;
  } catch {
    return null;
  }
}

// The handler's `info` with the client's address: a small object (a Proxy
// cost ~1 µs per request on Node), the other fields read from the original
// when asked (they are built on first use).
class ForwardedInfo implements ServeHandlerInfo {
  readonly remoteAddr: ServeHandlerInfo["remoteAddr"];
  #info: ServeHandlerInfo;

  constructor(info: ServeHandlerInfo, remoteAddr: NetAddr) {
    this.remoteAddr = remoteAddr as ServeHandlerInfo["remoteAddr"];
    this.#info = info;
  }

  get completed(): Promise<void> {
    return this.#info.completed;
  }

  get group(): ServeHandlerInfo["group"] {
    return this.#info.group;
  }
}
