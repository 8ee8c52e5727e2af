import { describe, expect, it } from "vitest";
import type { Conn, ConnHandler } from "../adapter.ts";
import { ResourceGroup } from "../groups/group.ts";
import { ServerCore } from "./core.ts";
import { resolveOptions } from "./options.ts";
import type { ServeLimits, ServeTimeouts } from "../types.ts";

const addr = { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 };

/** A socket that records what the core does to it; `end()` and `destroy()` close it at once. */
class FakeConn implements Conn {
  readonly remoteAddr = addr;
  readonly localAddr = addr;
  written = "";
  ended = false;
  destroyed = false;
  handler: ConnHandler | null = null;
  write(chunk: Uint8Array): boolean {
    this.written += new TextDecoder().decode(chunk);
    return true;
  }
  end(): void {
    this.ended = true;
    this.#close();
  }
  destroy(): void {
    this.destroyed = true;
    this.#close();
  }
  #close(): void {
    const h = this.handler;
    this.handler = null;
    if (h) queueMicrotask(() => h.onClose());
  }
  pause(): void {}
  resume(): void {}
  ref(): void {}
  unref(): void {}
  send(text: string): void {
    this.handler?.onData(new TextEncoder().encode(text));
  }
}

function core(
  handler: (req: Request) => Response | Promise<Response>,
  limits: ServeLimits = {},
  timeouts: ServeTimeouts = {},
) {
  const group = new ResourceGroup({ name: "server" });
  const c = new ServerCore(
    handler,
    () => new Response("error", { status: 500 }),
    resolveOptions({ limits, timeouts }),
    group,
  );
  c.listening({ host: "localhost:1" });
  const connect = () => {
    const conn = new FakeConn();
    conn.handler = c.accept(conn);
    return conn;
  };
  return { core: c, group, connect };
}

const GET = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ServerCore", () => {
  it("answers on a connection it accepted, and forgets it when it closes", async () => {
    const { core: c, connect } = core((req) => new Response(new URL(req.url).pathname));
    const conn = connect();
    conn.send(GET);
    expect(conn.written).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\/x$/);
    expect(c.connections.size).toBe(1);
    conn.destroy();
    await sleep(0);
    expect(c.connections.size).toBe(0);
  });

  it('at maxConnections with atMaxConnections "reject": 503 at once', () => {
    const { connect } = core(() => new Response("ok"), { maxConnections: 1, atMaxConnections: "reject" });
    connect();
    const second = connect();
    expect(second.written).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
  });

  it("sweeps deadlines: a handler past timeouts.handler gets its 503", async () => {
    const { connect } = core(() => new Promise<Response>(() => {}), {}, { handler: 40 });
    const conn = connect();
    conn.send(GET);
    await sleep(150);
    expect(conn.written).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(conn.ended).toBe(true);
  });

  it("shutdownGracefully: idle connections close at once, busy ones after their response", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { core: c, connect } = core(async () => {
      await gate;
      return new Response("late");
    });
    const idle = connect();
    const busy = connect();
    busy.send(GET);
    let done = false;
    const shutdown = c.shutdownGracefully().then(() => (done = true));
    expect(c.shuttingDown).toBe(true);
    expect(idle.ended).toBe(true);
    await sleep(10);
    expect(done).toBe(false);
    release();
    await shutdown;
    expect(busy.written).toMatch(/connection: close\r\n[\s\S]*late$/);
    expect(busy.ended).toBe(true);
  });

  it("destroyAll destroys every connection", async () => {
    const { core: c, connect } = core(() => new Promise<Response>(() => {}));
    const a = connect();
    const b = connect();
    a.send(GET);
    c.destroyAll();
    expect(a.destroyed && b.destroyed).toBe(true);
    await sleep(0);
    expect(c.connections.size).toBe(0);
  });
});

describe("HttpConnection phases", () => {
  it("head → body → handling → head for each request; closing, then closed", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { core: c, connect } = core(async (req) => {
      await req.text();
      await gate;
      return new Response("ok");
    });
    const conn = connect();
    const http = [...c.connections][0]!;
    expect(http.phase).toBe("head");
    conn.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
    expect(http.phase).toBe("body");
    conn.send("cd");
    expect(http.phase).toBe("handling");
    conn.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"); // waits its turn
    release();
    await sleep(10);
    expect(conn.written.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
    expect(http.phase).toBe("head");
    conn.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    await sleep(10);
    expect(conn.ended).toBe(true);
    expect(http.phase).toBe("closed"); // the fake socket closes as soon as it is ended
  });

  it("a protocol error answers, then the connection is closing", () => {
    const { core: c, connect } = core(() => new Response("ok"));
    const conn = connect();
    const http = [...c.connections][0]!;
    conn.handler = null; // keep the fake socket open after end(), as a real one lingers
    http.onData(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
    expect(conn.written).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(http.phase).toBe("closing");
  });
});
