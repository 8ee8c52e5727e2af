/**
 * Cutting an absolute URL string without parsing it: the request URLs the
 * server makes are already canonical, and `new URL` on every request would
 * cost more than the routing it serves.
 *
 * @module
 */

/** `origin` ("http://host:port") and `path` (without query or fragment) of an absolute URL string. */
export function splitUrl(url: string): { origin: string; path: string } {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return { origin: url, path: "/" };
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  return { origin: url.slice(0, start), path: url.slice(start, end) };
}
