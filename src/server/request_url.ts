/**
 * `request.url`: the absolute URL of a request, as a platform `Request`
 * would read it (the WHATWG URL serialisation), built without `URL` when
 * the Host and target are already in that form.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { RequestHead } from "../http/parser.ts";

// Characters or sequences the URL parser would rewrite: percent-encoded
// characters, dot segments (also as %2e), backslashes, an upper-case or
// default-port host.
const NOT_CANONICAL_TARGET = /[^A-Za-z0-9\-._~!$&'()*+,;=:@\/?%|]|\/\.|%2e/i;

function normalise(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    throw new HttpError("INVALID_HOST", "Host and request-target do not form a valid URL");
  }
}

// Whether URL would accept `host` and print it as it is: a lower-case name
// of characters URL never rewrites or rejects, no punycode label (URL
// validates those, and rejects `xn--a`), a port in range without a default
// value or zero padding, a dotted-quad IPv4 address in canonical form.
// Anything else goes through URL, which rejects what cannot form a URL
// (a 400, issue 18.3).
function isCanonicalHost(host: string): boolean {
  const m = /^([a-z0-9._~!$&'()*+,;=-]+)(?::([1-9]\d{0,4}))?$/.exec(host);
  if (m === null) return false; // IPv6 literal, empty port, upper case, …: let URL decide
  const [, name, port] = m;
  if (port !== undefined && (port === "80" || port === "443" || Number(port) > 65535)) return false;
  if (name.startsWith("xn--") || name.includes(".xn--")) return false;
  const last = name.slice(name.lastIndexOf(".") + 1);
  if (last === "" || /^(?:\d|0x)/i.test(last)) {
    return /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(name);
  }
  return true;
}

// A copy of `s` that does not hold on to the string it was cut from. The
// Host value is a slice of the whole decoded request head, and V8 and JSC
// keep a slice as a view of its parent: a remembered Host would hold a whole
// head (a browser's, cookies included, is often over 1 KiB). Joining
// characters builds a new string on all three runtimes (2,000 hosts cut from
// 50 KB heads: 100 MB kept without it, 0.3–4 MB with it); `(" " + s).slice(1)`
// does on V8 only. Once per new Host, ~0.2 µs.
function detach(s: string): string {
  return s.split("").join("");
}

// How many canonical Host values a server remembers. Most servers see one
// or a few; past this many the set starts over, so that a client sending
// endless distinct hosts costs a check per request, not memory.
const MAX_HOSTS = 64;

/**
 * Builds the URLs of one server's requests. It remembers the Host values
 * that proved canonical, so that each is checked once, not per request.
 *
 * One per server, not per connection: a connection's own copy, with the
 * copied Host string, was ~80 bytes that each idle keep-alive connection
 * kept (issue 17).
 */
export class RequestUrls {
  #scheme: string;
  #defaultHost: string;
  #canonicalHosts = new Map<string, string>(); // each a copy (detach)
  #last = "";
  #lastTarget = "";
  // The Host of #lastUrl as the parser gave it (#last is a copy): with the
  // target, it keeps the last head's text alive, as the parser does.
  #lastHost = "";
  #lastUrl = "";

  /** URLs with `scheme` (`"http://"`), and `defaultHost` for HTTP/1.0 requests without Host. */
  constructor(scheme: string, defaultHost: string) {
    this.#scheme = scheme;
    this.#defaultHost = defaultHost;
  }

  /** The absolute URL of `head`; throws a 400 HttpError when Host and target cannot form one. */
  of(head: RequestHead): string {
    if (head.form === "absolute") return normalise(head.target);
    const host = head.host || this.#defaultHost;
    const target = head.form === "asterisk" ? "/*" : head.target;
    // The last request's URL again, the same string: a handler reading it
    // (Hono's router does, by indexOf and charCodeAt) makes V8 and JSC
    // flatten a concatenation into one string, once per URL here rather
    // than once per request. The parser hands out the same strings for a
    // Host and a target that repeat the last ones, so this is most often
    // two pointer comparisons.
    if (host === this.#lastHost && target === this.#lastTarget) return this.#lastUrl;
    // The Host of the server's last request, then the others it has seen.
    if (host !== this.#last) {
      const hosts = this.#canonicalHosts;
      let known = hosts.get(host);
      if (known === undefined) {
        if (!isCanonicalHost(host)) return normalise(this.#scheme + host + target);
        if (hosts.size >= MAX_HOSTS) hosts.clear();
        known = detach(host);
        hosts.set(known, known);
      }
      this.#last = known;
    }
    // The last canonical target is not tested again (the regex was 1.3% of
    // the core's time on Node).
    if (target !== this.#lastTarget) {
      if (NOT_CANONICAL_TARGET.test(target)) return normalise(this.#scheme + host + target);
      this.#lastTarget = target;
    }
    // Built from the remembered copy of the Host, not from the head's.
    this.#lastHost = host;
    return this.#lastUrl = this.#scheme + this.#last + target;
  }
}
