/**
 * The file server's access log: one line per request, written once the
 * response is complete (or the client left).
 *
 * @module
 */

/**
 * One access-log line: time (ISO 8601, UTC), client address, method and
 * target, status, body bytes (`-` when not known up front: a streamed body)
 * and the time to complete the response.
 *
 * @example
 * ```ts
 * import { accessLogLine } from "./access_log.ts";
 * accessLogLine(new Date(0), "127.0.0.1", "GET", "/hello.txt", 200, 14, 1.25);
 * // '1970-01-01T00:00:00.000Z 127.0.0.1 "GET /hello.txt" 200 14 1.3ms'
 * ```
 */
export function accessLogLine(
  at: Date,
  client: string,
  method: string,
  target: string,
  status: number,
  bytes: number | null,
  ms: number,
): string {
  // The target is the client's: escape quotes and control characters so that
  // one request is one line, whatever it asked for.
  // deno-lint-ignore no-control-regex
  const safe = target.replace(/["\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `${at.toISOString()} ${client} "${method} ${safe}" ${status} ${bytes ?? "-"} ${ms.toFixed(1)}ms`;
}
