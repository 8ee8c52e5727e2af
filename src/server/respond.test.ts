import { describe, expect, it } from "vitest";
import { type ResponseSink, writeResponse } from "./respond.ts";
import { makeLightResponse } from "./light_response.ts";

/** A sink that records what is written, and can report backpressure or a closed socket. */
class FakeSink implements ResponseSink {
  chunks: Uint8Array[] = [];
  full = false;
  closed = false;
  waits = 0;
  corks = 0;
  #release: (() => void) | null = null;

  write(chunk: Uint8Array): boolean {
    this.chunks.push(chunk.slice());
    return !this.full;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {}
  waitWritable(): Promise<void> {
    this.waits++;
    return new Promise((r) => (this.#release = r));
  }
  gone: ((reason: unknown) => void) | null = null;
  onGone(fn: ((reason: unknown) => void) | null): void {
    this.gone = fn;
  }
  /** The socket drained: the writer may go on. */
  writable(): void {
    this.full = false;
    const r = this.#release;
    this.#release = null;
    r?.();
  }
  get text(): string {
    return this.chunks.map((c) => new TextDecoder().decode(c)).join("");
  }
}

const GET = { method: "GET", versionMinor: 1 };
const noDate = (text: string) => text.replace(/date: [^\r]*\r\n/, "");
const tick = () => new Promise((r) => setTimeout(r, 5));

function streamOf(parts: string[], delayMs = 0): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (i < parts.length) c.enqueue(new TextEncoder().encode(parts[i++]));
      else c.close();
    },
  });
}

describe("writeResponse", () => {
  it("a body at hand: Content-Length, in one write, kept alive", () => {
    const sink = new FakeSink();
    const keep = writeResponse(sink, GET, new Response("hello", { headers: { "x-a": "1" } }), true);
    expect(keep).toBe(true);
    expect(sink.chunks.length).toBe(1);
    const text = noDate(sink.text);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain("x-a: 1\r\n");
    expect(text).toContain("content-length: 5\r\n");
    expect(text.endsWith("\r\n\r\nhello")).toBe(true);
  });

  it("the lightweight Response is written from its parts, the same bytes", () => {
    const a = new FakeSink();
    const b = new FakeSink();
    const Light = makeLightResponse(Response);
    writeResponse(a, GET, new Light("hi", { status: 201, headers: { "x-b": "2" } }), true);
    writeResponse(
      b,
      GET,
      new Response("hi", { status: 201, headers: { "x-b": "2", "content-type": "text/plain;charset=UTF-8" } }),
      true,
    );
    // the same fields (the platform's Headers sorts them), the same body
    const lines = (t: string) => noDate(t).split("\r\n").sort();
    expect(lines(a.text)).toEqual(lines(b.text));
  });

  it("Connection: close from the handler ends keep-alive and is sent", () => {
    const sink = new FakeSink();
    expect(writeResponse(sink, GET, new Response("x", { headers: { connection: "close" } }), true)).toBe(false);
    expect(sink.text).toMatch(/connection: close\r\n/i);
  });

  it("HEAD, 204 and 304 carry no body", () => {
    const head = new FakeSink();
    writeResponse(head, { method: "HEAD", versionMinor: 1 }, new Response("12345"), true);
    expect(head.text).toContain("content-length: 5\r\n");
    expect(head.text.endsWith("\r\n\r\n")).toBe(true);
    for (const status of [204, 304]) {
      const sink = new FakeSink();
      writeResponse(sink, GET, new Response(null, { status }), true);
      expect(sink.text.endsWith("\r\n\r\n")).toBe(true);
      expect(sink.text).not.toMatch(/transfer-encoding/i);
    }
  });

  it("a stream that takes its time: chunked, and ended with the last chunk", async () => {
    const sink = new FakeSink();
    const keep = await writeResponse(sink, GET, new Response(streamOf(["a", "bc"], 2)), true);
    expect(keep).toBe(true);
    const text = sink.text;
    expect(text).toContain("transfer-encoding: chunked\r\n");
    expect(text.slice(text.indexOf("\r\n\r\n") + 4)).toBe("1\r\na\r\n2\r\nbc\r\n0\r\n\r\n");
  });

  it("HTTP/1.0: no chunked coding, the body ends with the connection", async () => {
    const sink = new FakeSink();
    const keep = await writeResponse(
      sink,
      { method: "GET", versionMinor: 0 },
      new Response(streamOf(["a", "b"], 2)),
      true,
    );
    expect(keep).toBe(false);
    expect(sink.text).not.toMatch(/transfer-encoding/i);
    expect(sink.text.endsWith("\r\n\r\nab")).toBe(true);
  });

  it("reads the next chunk only once the socket is writable again", async () => {
    const sink = new FakeSink();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 1));
        pulls++;
        if (pulls <= 3) c.enqueue(new Uint8Array(10));
        else c.close();
      },
    }, { highWaterMark: 0 });
    sink.full = true;
    const done = writeResponse(sink, GET, new Response(body), true) as Promise<boolean>;
    await tick();
    await tick();
    expect(sink.waits).toBe(1);
    const pulled = pulls;
    await tick();
    expect(pulls).toBe(pulled); // waiting, not reading
    sink.writable();
    await done;
    expect(sink.text.endsWith("0\r\n\r\n")).toBe(true);
  });

  it("a socket that closes mid-stream cancels the body", async () => {
    const sink = new FakeSink();
    let cancelled = false;
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 1));
        c.enqueue(new TextEncoder().encode(`part ${i++}`));
      },
      cancel() {
        cancelled = true;
      },
    });
    const done = writeResponse(sink, GET, new Response(body), true) as Promise<boolean>;
    await tick();
    sink.closed = true;
    await done;
    expect(cancelled).toBe(true);
  });

  it("a client that goes away while the body waits for its next chunk cancels it at once, and the response is cut", async () => {
    for (const length of [null, "100"]) {
      const sink = new FakeSink();
      let reason: unknown = null;
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (!sent) c.enqueue(new TextEncoder().encode("first"));
          sent = true; // then nothing more: a quiet stream
        },
        cancel(why) {
          reason = why;
        },
      });
      const headers: Record<string, string> = length === null ? {} : { "content-length": length };
      const done = writeResponse(sink, GET, new Response(body, { headers }), true) as Promise<boolean>;
      for (let i = 0; i < 20 && sink.gone === null; i++) await tick();
      const gone = new DOMException("The client closed the connection", "AbortError");
      sink.gone!(gone);
      expect(reason).toBe(gone); // now, not at a later write
      await expect(done).rejects.toBe(gone);
      expect(sink.text).not.toContain("\r\n0\r\n\r\n"); // no clean end
      expect(sink.gone).toBeNull();
    }
  });

  it("a body longer or shorter than its Content-Length throws, so that the caller cuts the connection", async () => {
    const long = new Response(streamOf(["abc", "def"], 1), { headers: { "content-length": "4" } });
    await expect(writeResponse(new FakeSink(), GET, long, true)).rejects.toThrow(/longer than its Content-Length/);
    const short = new Response(streamOf(["ab"], 1), { headers: { "content-length": "4" } });
    await expect(writeResponse(new FakeSink(), GET, short, true)).rejects.toThrow(/shorter than its Content-Length/);
  });

  it("a body stream that errors after the head rejects, with no last chunk written", async () => {
    const sink = new FakeSink();
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 1));
        if (i++ < 2) c.enqueue(new TextEncoder().encode("x"));
        else c.error(new Error("failed"));
      },
    });
    await expect(writeResponse(sink, GET, new Response(body), true)).rejects.toThrow("failed");
    expect(sink.text).toContain("transfer-encoding: chunked");
    expect(sink.text.endsWith("0\r\n\r\n")).toBe(false);
  });
});
