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
 * - `request.url` takes its scheme from the first `X-Forwarded-Proto`
 *   value ("http" or "https") and its host from the first
 *   `X-Forwarded-Host` value, when they form a valid URL; anything else is
 *   ignored.
 * - From a peer that is not trusted, and without the option, nothing
 *   changes: the headers stay plain headers.
 *
 * @module
 */

import type { NetAddr } from "../adapter.ts";
import type { Handler, ServeHandlerInfo } from "../types.ts";
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
  return (request, info) => {
    // A unix socket's peer has no address: only `true` trusts it.
    const peer = info.remoteAddr;
    if (peer.transport !== "tcp" ? matcher !== null : !trusted(peer.hostname)) return handler(request, info);
    const headers = request.headers;
    const xff = headers.get("x-forwarded-for");
    const proto = first(headers.get("x-forwarded-proto"))?.toLowerCase();
    const host = first(headers.get("x-forwarded-host"));
    let req = request;
    if ((proto === "http" || proto === "https") || host) {
      const url = forwardedUrl(request.url, proto, host);
      if (url !== null && url !== request.url) req = withUrl(request, url);
    }
    const client = xff === null ? null : nearestUntrusted(xff, trusted);
    if (client === null) return handler(req, info);
    const remoteAddr: NetAddr = { transport: "tcp", hostname: client, port: 0 };
    return handler(req, withRemote(info, remoteAddr));
  };
}

function first(value: string | null): string | undefined {
  if (value === null) return undefined;
  const comma = value.indexOf(",");
  const v = (comma < 0 ? value : value.slice(0, comma)).trim();
  return v === "" ? undefined : v;
}

// The client as the trusted proxies saw it, in canonical text form; null if
// the header has no usable entry.
function nearestUntrusted(xff: string, trusted: (a: string) => boolean): string | null {
  const hops = xff.split(",");
  let last: string | null = null;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i].trim();
    const ip = parseIp(hop);
    if (ip === null) return last;
    last = formatIp(unmap(ip));
    if (!trusted(last)) return last;
  }
  return last;
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

function withUrl(request: Request, url: string): Request {
  return new Request(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
    // @ts-ignore: `duplex` is required by Node and Deno for stream bodies, unknown to DOM typings
    duplex: "half",
  });
}

function withRemote(info: ServeHandlerInfo, remoteAddr: NetAddr): ServeHandlerInfo {
  return new Proxy(info, {
    get(target, key) {
      if (key === "remoteAddr") return remoteAddr;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
