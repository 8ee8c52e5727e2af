/**
 * A raw WebSocket client over node:net for wire-level tests: it sends the
 * handshake it is told to (valid by default), reads the server's answer
 * head, then reads frames one by one.
 */
import net from "node:net";
import { parseFrames, type ServerFrame } from "./ws_frames.ts";

export const TEST_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const TEST_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

export interface HandshakeOptions {
  /** Fields to add or replace (a null value removes a default one). */
  headers?: Record<string, string | null>;
  /** Bytes sent in the same write as the request head. */
  extra?: Uint8Array;
  method?: string;
}

export class WsRaw {
  readonly socket: net.Socket;
  status = 0;
  /** Response fields, names lower-cased. */
  headers = new Map<string, string>();
  head = "";
  /** The answer's body (for a refused handshake), as far as received. */
  private buf: Buffer = Buffer.alloc(0);
  private frames: ServerFrame[] = [];
  private waiters: (() => void)[] = [];
  private isClosed = false;
  /** Resolves when the server closed the TCP connection (or it errored). */
  readonly closed: Promise<void>;
  /** True when the server ended (FIN) rather than reset. */
  gotEnd = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      this.gotEnd = true;
    });
    socket.on("data", (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      if (this.status !== 0 && this.status === 101) this.parse();
      this.wake();
    });
  }

  static async connect(port: number, path = "/echo", o: HandshakeOptions = {}): Promise<WsRaw> {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    const c = new WsRaw(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const fields: Record<string, string | null> = {
      host: `127.0.0.1:${port}`,
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": TEST_KEY,
      "sec-websocket-version": "13",
      ...o.headers,
    };
    let head = `${o.method ?? "GET"} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(fields)) if (v !== null) head += `${k}: ${v}\r\n`;
    head += "\r\n";
    const bytes = Buffer.from(head, "latin1");
    socket.write(o.extra ? Buffer.concat([bytes, o.extra]) : bytes);
    await c.until(() => c.buf.indexOf("\r\n\r\n") >= 0, 10_000, "the answer's head");
    const end = c.buf.indexOf("\r\n\r\n");
    c.head = c.buf.subarray(0, end).toString("latin1");
    c.buf = c.buf.subarray(end + 4);
    const [status, ...lines] = c.head.split("\r\n");
    c.status = Number(status.split(" ")[1]);
    for (const l of lines) {
      const i = l.indexOf(":");
      c.headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    if (c.status === 101) c.parse();
    return c;
  }

  private parse(): void {
    const { frames, rest } = parseFrames(this.buf);
    this.frames.push(...frames);
    this.buf = Buffer.from(rest);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The rest of a refused handshake's answer (its body), once the server closed or sent it. */
  async body(length: number): Promise<string> {
    await this.until(() => this.buf.length >= length, 5000, "the body").catch(() => {});
    return this.buf.toString("utf8");
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server. */
  async next(ms = 5000): Promise<ServerFrame> {
    await this.until(() => this.frames.length > 0, ms, "a frame");
    return this.frames.shift()!;
  }

  /** The next frame, or null if the connection closes first. */
  async nextOrClose(ms = 5000): Promise<ServerFrame | null> {
    try {
      return await this.next(ms);
    } catch (e) {
      if (this.isClosed && this.frames.length === 0) return null;
      throw e;
    }
  }

  /** Frames received and not yet taken. */
  pending(): number {
    return this.frames.length;
  }

  /** Waits for the server to close TCP; rejects after `ms`. */
  async waitClosed(ms = 5000): Promise<void> {
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => (t = setTimeout(() => reject(new Error("server did not close the connection")), ms))),
    ]);
    clearTimeout(t);
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
