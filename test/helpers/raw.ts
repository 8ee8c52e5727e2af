/**
 * Raw-socket HTTP/1.1 client for wire-level checks (pipelining, keep-alive,
 * framing). It parses responses strictly per RFC 9112 §6.3: a response to
 * HEAD, and any 1xx/204/304, has no body; otherwise Transfer-Encoding: chunked,
 * else Content-Length, else the body runs to the close. Anything that is not a
 * well-formed response where one must start is an error that shows the bytes.
 */
import net from "node:net";

export interface RawResponse {
  version: string;
  status: number;
  reason: string;
  /** Header fields in wire order, names lower-cased. */
  headers: Array<[string, string]>;
  /** The head as it was on the wire, up to and including the blank line. */
  head: string;
  /** The message body after removing the transfer coding. */
  body: Buffer;
  /** The body bytes exactly as they were on the wire (chunk framing included). */
  wireBody: Buffer;
  /** Number of non-final chunks on the wire (chunked responses only). */
  chunkCount: number;
  /** Trailer fields of a chunked response. */
  trailers: Array<[string, string]>;
  /** Interim (1xx) responses that preceded this one. */
  interim: Array<{ status: number; headers: Array<[string, string]> }>;
  /** Single header value (several fields joined with ", "), or null. */
  header(name: string): string | null;
  /** All field values of a header, one per field line. */
  headerAll(name: string): string[];
  text(): string;
}

export interface ReadOptions {
  /** The request method, so a HEAD response is read without a body. */
  method?: string;
  /** ms to wait for the whole response (default 10 s). */
  timeoutMs?: number;
}

const CRLF = Buffer.from("\r\n");
const CRLFCRLF = Buffer.from("\r\n\r\n");

function show(buf: Buffer, max = 300): string {
  const s = buf.subarray(0, max).toString("latin1");
  return JSON.stringify(s) + (buf.length > max ? `… (+${buf.length - max} bytes)` : "");
}

export class RawClient {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private closedFlag = false;
  private error: Error | null = null;
  private waiters: Array<() => void> = [];
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", (e) => {
      this.error = e;
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.closedFlag = true;
        this.ended = true;
        this.wake();
        resolve();
      })
    );
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, noDelay: true });
      const client = new RawClient(socket);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(client);
      });
      socket.once("error", reject);
    });
  }

  /** Our side's port: the server should see it as info.remoteAddr.port. */
  get localPort(): number {
    return this.socket.localPort!;
  }

  /** True once the peer closed (FIN received) or the socket closed. */
  get peerEnded(): boolean {
    return this.ended;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Bytes received and not yet consumed by a read. */
  get buffered(): Buffer {
    return this.buf;
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data, (e) =>
        e ? reject(e) : resolve()
      );
    });
  }

  /** Half-close: send FIN, keep reading. */
  end(): void {
    this.socket.end();
  }

  /** Closes our side now: the server sees a FIN (nothing unread is pending). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Aborts the connection with a TCP RST (SO_LINGER 0): the server sees ECONNRESET. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private waitForData(deadline: number, what: string): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.ended) {
      return Promise.reject(
        new Error(`connection closed by the server while waiting for ${what}; unread bytes: ${show(this.buf)}`),
      );
    }
    return new Promise((resolve, reject) => {
      const ms = deadline - Date.now();
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; unread bytes: ${show(this.buf)}`));
      }, Math.max(0, ms));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async readUntil(delim: Buffer, deadline: number, what: string, limit = 1 << 20): Promise<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(delim);
      if (i >= 0) {
        const out = this.buf.subarray(0, i + delim.length);
        this.buf = this.buf.subarray(i + delim.length);
        return out;
      }
      if (this.buf.length > limit) throw new Error(`${what}: no ${JSON.stringify(delim.toString())} in ${limit} bytes`);
      await this.waitForData(deadline, what);
    }
  }

  private async readExactly(n: number, deadline: number, what: string): Promise<Buffer> {
    while (this.buf.length < n) await this.waitForData(deadline, `${what} (${this.buf.length}/${n} bytes)`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  private async readToClose(deadline: number, what: string): Promise<Buffer> {
    while (!this.ended) {
      try {
        await this.waitForData(deadline, what);
      } catch (e) {
        if (this.ended) break;
        throw e;
      }
    }
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  private async readHead(deadline: number): Promise<{
    head: string;
    version: string;
    status: number;
    reason: string;
    headers: Array<[string, string]>;
  }> {
    // Check the status line start as soon as there are enough bytes, so that
    // stray bytes (e.g. a body after HEAD/204) are reported as such.
    while (this.buf.length < 5) await this.waitForData(deadline, "a response");
    if (this.buf.subarray(0, 5).toString("latin1") !== "HTTP/") {
      throw new Error(`expected a response to start here, got ${show(this.buf)}`);
    }
    const raw = await this.readUntil(CRLFCRLF, deadline, "the end of the response head", 256 * 1024);
    const head = raw.toString("latin1");
    const lines = head.slice(0, -4).split("\r\n");
    const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const c = line.indexOf(":");
      if (c <= 0 || /[\s]/.test(line.slice(0, c))) throw new Error(`bad header line ${JSON.stringify(line)} in ${JSON.stringify(head)}`);
      headers.push([line.slice(0, c).toLowerCase(), line.slice(c + 1).trim()]);
    }
    return { head, version: m[1]!, status: Number(m[2]), reason: m[3] ?? "", headers };
  }

  private async readChunked(deadline: number): Promise<{
    body: Buffer;
    wire: Buffer[];
    chunkCount: number;
    trailers: Array<[string, string]>;
  }> {
    const parts: Buffer[] = [];
    const wire: Buffer[] = [];
    let chunkCount = 0;
    for (;;) {
      const sizeLine = await this.readUntil(CRLF, deadline, "a chunk-size line", 4096);
      wire.push(sizeLine);
      const text = sizeLine.toString("latin1").slice(0, -2);
      const m = /^([0-9A-Fa-f]+)(;.*)?$/.exec(text);
      if (!m) throw new Error(`bad chunk-size line ${JSON.stringify(text)}`);
      const size = parseInt(m[1]!, 16);
      if (size === 0) break;
      const data = await this.readExactly(size, deadline, "chunk data");
      const crlf = await this.readExactly(2, deadline, "the CRLF after chunk data");
      if (!crlf.equals(CRLF)) throw new Error(`chunk data not followed by CRLF: ${show(crlf)}`);
      wire.push(data, crlf);
      parts.push(data);
      chunkCount++;
    }
    const trailers: Array<[string, string]> = [];
    for (;;) {
      const line = await this.readUntil(CRLF, deadline, "a trailer line or the final CRLF", 64 * 1024);
      wire.push(line);
      const t = line.toString("latin1").slice(0, -2);
      if (t === "") break;
      const c = t.indexOf(":");
      if (c <= 0) throw new Error(`bad trailer line ${JSON.stringify(t)}`);
      trailers.push([t.slice(0, c).toLowerCase(), t.slice(c + 1).trim()]);
    }
    return { body: Buffer.concat(parts), wire, chunkCount, trailers };
  }

  /** Reads the next complete response (skipping and recording 1xx interim ones). */
  async readResponse(options: ReadOptions = {}): Promise<RawResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    const method = (options.method ?? "GET").toUpperCase();
    const interim: RawResponse["interim"] = [];
    for (;;) {
      const h = await this.readHead(deadline);
      if (h.status >= 100 && h.status < 200 && h.status !== 101) {
        interim.push({ status: h.status, headers: h.headers });
        continue;
      }
      const get = (name: string) => h.headers.filter(([k]) => k === name).map(([, v]) => v);
      let body: Buffer = Buffer.alloc(0);
      let wireBody: Buffer = Buffer.alloc(0);
      let chunkCount = 0;
      let trailers: Array<[string, string]> = [];
      const noBody = method === "HEAD" || h.status === 204 || h.status === 304 || h.status === 101 ||
        (method === "CONNECT" && h.status < 300);
      if (!noBody) {
        const te = get("transfer-encoding").join(",").toLowerCase();
        const cl = get("content-length");
        if (te) {
          const codings = te.split(",").map((s) => s.trim()).filter(Boolean);
          if (codings[codings.length - 1] !== "chunked") {
            body = wireBody = await this.readToClose(deadline, "a close-delimited body");
          } else {
            const c = await this.readChunked(deadline);
            body = c.body;
            wireBody = Buffer.concat(c.wire);
            chunkCount = c.chunkCount;
            trailers = c.trailers;
          }
        } else if (cl.length) {
          const values = new Set(cl.join(",").split(",").map((s) => s.trim()));
          if (values.size !== 1) throw new Error(`conflicting content-length: ${cl.join(" | ")}`);
          const n = Number([...values][0]);
          if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad content-length ${cl[0]}`);
          body = wireBody = await this.readExactly(n, deadline, "the content-length body");
        } else {
          body = wireBody = await this.readToClose(deadline, "a close-delimited body");
        }
      }
      const headers = h.headers;
      return {
        version: h.version,
        status: h.status,
        reason: h.reason,
        headers,
        head: h.head,
        body,
        wireBody,
        chunkCount,
        trailers,
        interim,
        header(name: string) {
          const vs = headers.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v);
          return vs.length ? vs.join(", ") : null;
        },
        headerAll(name: string) {
          return headers.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v);
        },
        text() {
          return body.toString("utf8");
        },
      };
    }
  }

  /** Reads one response per entry of `methods`, in order. */
  async readResponses(methods: string[], options: Omit<ReadOptions, "method"> = {}): Promise<RawResponse[]> {
    const out: RawResponse[] = [];
    for (const method of methods) out.push(await this.readResponse({ ...options, method }));
    return out;
  }

  /**
   * Waits `ms` and asserts that nothing more arrived (e.g. no stray body bytes
   * after a HEAD or 204 response). Throws with the bytes if something did.
   */
  async expectQuiet(ms = 100): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (this.buf.length) throw new Error(`unexpected bytes on the wire: ${show(this.buf)}`);
  }

  /** Resolves true if the server closes the connection within `ms`, else false. */
  async waitForServerClose(ms = 2000): Promise<boolean> {
    if (this.ended) return true;
    return await Promise.race([
      new Promise<boolean>((r) => {
        const check = () => (this.ended ? r(true) : this.waiters.push(check));
        this.waiters.push(check);
      }),
      new Promise<boolean>((r) => setTimeout(() => r(this.ended), ms)),
    ]);
  }
}

/** Builds a request head (and optional body) as a string. */
export function req(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body = "",
): string {
  const h: Record<string, string> = { host: "127.0.0.1", ...headers };
  if (body && !Object.keys(h).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) {
    h["content-length"] = String(Buffer.byteLength(body, "latin1"));
  }
  return `${method} ${target} HTTP/1.1\r\n` +
    Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
    "\r\n" + body;
}

/** Connects, writes `data`, reads one response per method, closes. */
export async function exchange(port: number, data: string | Uint8Array, methods: string[] = ["GET"]): Promise<RawResponse[]> {
  const c = await RawClient.connect(port);
  try {
    await c.write(data);
    return await c.readResponses(methods);
  } finally {
    c.destroy();
  }
}

/** Runs `fn` with a raw client connected to `server`, and closes the client afterwards. */
export async function withRaw<T>(server: { port: number }, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(server.port);
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}
