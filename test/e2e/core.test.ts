/**
 * End-to-end scenarios, the same for node, deno and bun.
 *
 * Each runtime gets its own fixture processes (test/fixtures/server.mjs and
 * test/fixtures/hono.mjs), started once per runtime. Node loads dist/mod.js
 * (so `npm run build` first: `npm test` does that), Deno and Bun load
 * src/mod.ts. PORTICO_ENTRY / PORTICO_ENTRY_<RUNTIME> override the entry.
 *
 * fetch is used where the wire format does not matter; a raw socket
 * (test/helpers/raw.ts) where it does: pipelining, keep-alive, framing.
 */
import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { printStderrOnFailure, RUNTIMES, startServer, type RunningServer, type Runtime } from "../helpers/runtime.ts";
import { RawClient, req, withRaw } from "../helpers/raw.ts";
import { eventually, hashBody, sha256, sleep, uniqueId } from "../helpers/util.ts";
import * as prng from "../fixtures/prng.mjs";

const MiB = 1024 * 1024;

/** Runs `fn` with a fresh raw connection and always closes it. */

describe.each(RUNTIMES)("portico on %s", (runtime: Runtime) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer(runtime, "server.mjs");
  });
  afterAll(async () => {
    await server?.stop();
  });

  // When a test fails, show what the server wrote to stderr during it.
  beforeEach((ctx) => printStderrOnFailure(ctx, `${runtime} server`, () => server));

  const get = (path: string, init?: RequestInit) =>
    fetch(server.url + path, { signal: AbortSignal.timeout(20_000), ...init });
  const state = async (id: string) => {
    const r = await get(`/state?id=${encodeURIComponent(id)}`);
    return (await r.json()) as {
      abortCount: number;
      state: null | {
        started: boolean;
        aborted: boolean;
        abortReason: string | null;
        completed: null | "resolved" | "rejected";
        handlerReturned: boolean;
      };
    };
  };

  describe("basics", () => {
    it("answers a plain request, from the expected runtime", async () => {
      const r = await get("/hello");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(r.headers.get("x-runtime")).toBe(runtime);
      expect(await r.text()).toBe("Hello, World!");
    });

    it("sends the Fetch default content-type for a string body (new Response(string))", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/plain"));
        const r = await c.readResponse();
        expect(r.status).toBe(200);
        expect(r.header("content-type")?.toLowerCase()).toBe("text/plain;charset=utf-8");
        expect(r.text()).toBe("plain text, no headers");
      });
    });

    it("gives the handler info.remoteAddr, info.completed and info.group", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/info?x=1"));
        const r = await c.readResponse();
        expect(r.status).toBe(200);
        const info = JSON.parse(r.text());
        expect(info.runtime).toBe(runtime);
        expect(info.remoteAddr).toEqual({ transport: "tcp", hostname: "127.0.0.1", port: c.localPort });
        expect(info.hasCompleted).toBe(true);
        expect(info.hasGroup).toBe(true);
        const url = new URL(info.url);
        expect(url.protocol).toBe("http:");
        expect(url.pathname + url.search).toBe("/info?x=1");
      });
    });

    it("reads field bytes above 0x7F as latin1, answers JSON with them as UTF-8, and passes every method on as sent", async () => {
      await withRaw(server, async (c) => {
        await c.write("GET /headers HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9 \xff\r\n\r\n");
        const r = await c.readResponse();
        expect(r.status).toBe(200);
        expect(r.header("content-type")).toBe("application/json");
        expect(Number(r.header("content-length"))).toBe(r.body.length);
        expect(JSON.parse(r.body.toString("utf8"))["x-name"]).toBe("caf\u00e9 \u00ff");
        for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "GETS", "PROPFIND"]) {
          await c.write(`${method} /info HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n`);
          const m = await c.readResponse();
          expect(m.status, method).toBe(200);
          expect(JSON.parse(m.text()).method).toBe(method);
        }
      });
    });

    it("dates each response with the current second on a connection kept open across seconds", async () => {
      await withRaw(server, async (c) => {
        const dates: number[] = [];
        for (let k = 0; k < 3; k++) {
          await c.write(req("GET", "/plain"));
          const r = await c.readResponse();
          expect(r.text()).toBe("plain text, no headers");
          const date = Date.parse(r.header("date") ?? "");
          expect(Math.abs(date - Date.now()), r.header("date")).toBeLessThan(1500);
          dates.push(date);
          await sleep(600);
        }
        expect(dates[2]).toBeGreaterThan(dates[0]); // 1.2 s apart: a later second
      });
    });

    it("takes header inits of every Fetch kind (record, array, Headers, Map)", async () => {
      for (const kind of ["record", "array", "headers", "map"]) {
        const r = await get(`/init-headers?kind=${kind}`);
        expect(r.status).toBe(200);
        expect(r.headers.get("x-kind")).toBe(kind);
        expect(r.headers.get("x-two")).toBe("2");
        expect(await r.text()).toBe(`init ${kind}`);
      }
    });

    it("refuses a 204 built with a body, as the Fetch standard does, on every runtime", async () => {
      // Node's and Deno's Response throw, and so does portico's on Bun (Bun's
      // own accepts it and drops the body): the handler fails, 500.
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/null-body-status"));
        const r = await c.readResponse();
        expect(r.status).toBe(500);
      });
    });
  });

  describe("keep-alive", () => {
    it("serves several sequential requests on one connection", async () => {
      await withRaw(server, async (c) => {
        for (let i = 0; i < 5; i++) {
          await c.write(req("GET", `/info?n=${i}`));
          const r = await c.readResponse();
          expect(r.status).toBe(200);
          expect(r.version).toBe("HTTP/1.1");
          expect(r.header("connection") ?? "").not.toMatch(/close/i);
          const info = JSON.parse(r.text());
          // the server saw the same client socket every time
          expect(info.remoteAddr.port).toBe(c.localPort);
          expect(new URL(info.url).search).toBe(`?n=${i}`);
        }
        await c.expectQuiet(50);
        expect(c.peerEnded).toBe(false);
      });
    });

    it("keeps every byte while request sizes go up and down on one connection", async () => {
      // Large heads (cookies), small ones and bodies of 1 byte to 200 KiB,
      // one request at a time: on Deno the read buffer grows while reads
      // fill it and shrinks back after a run of small ones; the bytes
      // must come through whole across every change.
      const sizes = [10, 1500, 20, 20, 20, 20, 20, 20, 20, 20, 20, 9000, 1, 200_000, 5, 5, 5, 5, 5, 5, 5, 5, 5, 3000];
      await withRaw(server, async (c) => {
        for (const [i, size] of sizes.entries()) {
          const body = Buffer.from(prng.bytes(size, i + 1)).toString("latin1");
          const cookie = "c=" + "x".repeat(size > 1000 ? 1200 : 1);
          await c.write(req("POST", `/echo?i=${i}`, { cookie, "content-type": "application/octet-stream" }, body));
          const r = await c.readResponse();
          expect(r.status).toBe(200);
          expect(r.header("x-i")).toBe(String(i));
          expect(sha256(r.body)).toBe(sha256(Buffer.from(body, "latin1")));
        }
      });
    });

    it("keeps every connection's bytes apart while many come and go, with sizes changing", async () => {
      // On Deno, read buffers of up to 1 KiB are slots of shared slabs:
      // connections closing (some in the middle of a request) give theirs
      // back while others take and read into theirs. Every echo must be the
      // connection's own bytes, whole.
      const pick = (lo: number, hi: number, seed: number) =>
        lo + (new DataView(prng.bytes(4, seed).buffer).getUint32(0) % (hi - lo + 1));
      const worker = async (w: number) => {
        for (let round = 0; round < 3; round++) {
          await withRaw(server, async (c) => {
            for (let i = 0; i < 12; i++) {
              const size = pick(1, 2500, w * 1000 + round * 100 + i + 1);
              const body = Buffer.from(prng.bytes(size, w * 7919 + round * 131 + i)).toString("latin1");
              const cookie = "w=" + "y".repeat(pick(1, 1100, w * 50 + i + 1));
              await c.write(req("POST", `/echo?i=${w}.${round}.${i}`, { cookie }, body));
              const r = await c.readResponse();
              expect(r.header("x-i")).toBe(`${w}.${round}.${i}`);
              expect(sha256(r.body), `${w}.${round}.${i}: ${size} bytes`).toBe(sha256(Buffer.from(body, "latin1")));
            }
            // Leave some with half a request sent: the server closes them
            // while their read may be in flight.
            if (w % 3 === 0) await c.write(req("POST", "/echo", { "content-length": "100" }).slice(0, 30));
          });
        }
      };
      await Promise.all(Array.from({ length: 40 }, (_, w) => worker(w)));
    });

    it("a handler that reads part of a body through its reader and answers: the rest is discarded, the next request answered", async () => {
      await withRaw(server, async (c) => {
        const body = Buffer.alloc(200 * 1024, 0x61);
        await c.write(req("POST", "/peek", { "content-length": String(body.length) }));
        await c.write(body);
        await c.write(req("GET", "/hello?i=after-peek"));
        const r = await c.readResponse();
        expect(r.status).toBe(413);
        expect(r.text()).toMatch(/^peeked \d+$/);
        const next = await c.readResponse({ timeoutMs: 5000 });
        expect(next.text()).toBe("hello after-peek");
      });
    });

    it("an echo of a 1 MiB body, new Response(req.body), keeps the connection for the next request", async () => {
      await withRaw(server, async (c) => {
        const body = Buffer.alloc(1024 * 1024, 0x62);
        await c.write(req("POST", "/echo?i=big", { "content-length": String(body.length) }));
        await c.write(body);
        await c.write(req("GET", "/hello?i=after-echo"));
        const r = await c.readResponse({ timeoutMs: 10_000 });
        expect(r.status).toBe(200);
        expect(r.body.length).toBe(body.length);
        expect(r.header("connection")).toBeNull();
        expect((await c.readResponse({ timeoutMs: 5000 })).text()).toBe("hello after-echo");
      });
    });

    it("a chunked body the handler does not read: Connection: close, unless it was all in already", async () => {
      await withRaw(server, async (c) => {
        // Small and whole with the head: read with it, the connection is kept.
        await c.write(req("POST", "/hello?i=small", { "transfer-encoding": "chunked" }) + "5\r\nhello\r\n0\r\n\r\n");
        const small = await c.readResponse();
        expect(small.header("connection")).toBeNull();
        await c.write(req("GET", "/hello?i=next"));
        expect((await c.readResponse()).text()).toBe("hello next");
        // 1 MiB still coming: its size cannot be known, so the answer says the
        // connection will close, and it does (it promised keep-alive, then closed
        // after 256 KiB: a pooled client's next request failed).
        await c.write(req("POST", "/hello?i=big", { "transfer-encoding": "chunked" }));
        const r = c.readResponse({ timeoutMs: 5000 });
        const chunk = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, 0x61), Buffer.from("\r\n")]);
        for (let i = 0; i < 16 && !c.peerEnded; i++) await c.write(chunk).catch(() => {});
        const big = await r;
        expect(big.text()).toBe("hello big");
        expect(big.header("connection")).toMatch(/close/i);
        expect(await c.waitForServerClose(3000)).toBe(true);
      });
    });

    it("closes the connection after a response to `Connection: close`", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/hello?i=last", { connection: "close" }));
        const r = await c.readResponse();
        expect(r.status).toBe(200);
        expect(r.text()).toBe("hello last");
        expect(await c.waitForServerClose(3000)).toBe(true);
      });
    });

    it("closes an HTTP/1.0 connection without keep-alive after the response", async () => {
      await withRaw(server, async (c) => {
        await c.write("GET /hello?i=10 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        const r = await c.readResponse();
        expect(r.status).toBe(200);
        expect(r.text()).toBe("hello 10");
        // an HTTP/1.0 client cannot decode chunked
        expect(r.header("transfer-encoding")).toBeNull();
        expect(await c.waitForServerClose(3000)).toBe(true);
      });
    });

    it("answers early and closes without a reset while the client is still sending a large body", async () => {
      // The handler ignores a 16 MiB body, too large to drain: the server
      // answers, sends FIN and keeps reading, so the client's bytes in
      // flight never turn into a reset that would destroy the response.
      for (let round = 0; round < 3; round++) {
        await withRaw(server, async (c) => {
          await c.write(req("POST", `/hello?i=${round}`, { "content-length": String(16 * MiB) }));
          const response = c.readResponse();
          const chunk = new Uint8Array(64 * 1024).fill(0x61);
          let sent = 0;
          while (sent < 16 * MiB && !c.peerEnded) {
            await c.write(chunk);
            sent += chunk.length;
          }
          const r = await response;
          expect(r.status).toBe(200);
          expect(r.text()).toBe(`hello ${round}`);
          expect(r.header("connection")).toBe("close");
          expect(await c.waitForServerClose(3000)).toBe(true);
        });
      }
    });
  });

  describe("pipelining", () => {
    it("answers 16 requests written in one write, in order", async () => {
      await withRaw(server, async (c) => {
        let batch = "";
        for (let i = 0; i < 16; i++) batch += req("GET", `/hello?i=${i}`);
        await c.write(batch);
        const responses = await c.readResponses(Array(16).fill("GET"));
        expect(responses.map((r) => r.status)).toEqual(Array(16).fill(200));
        expect(responses.map((r) => r.header("x-i"))).toEqual([...Array(16).keys()].map(String));
        expect(responses.map((r) => r.text())).toEqual([...Array(16).keys()].map((i) => `hello ${i}`));
        await c.expectQuiet(50);
        // and the connection is still open for more
        await c.write(req("GET", "/hello?i=16"));
        expect((await c.readResponse()).text()).toBe("hello 16");
      });
    });

    it("keeps message framing straight across pipelined requests with bodies, HEAD and 204", async () => {
      await withRaw(server, async (c) => {
        const chunkedBody = "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";
        await c.write(
          req("GET", "/hello?i=0") +
            req("POST", "/echo?i=1", { "content-type": "text/plain" }, "body-one") +
            req("HEAD", "/fixed?n=10") +
            req("POST", "/sha256", { "transfer-encoding": "chunked" }, chunkedBody) +
            req("GET", "/status/204") +
            req("POST", "/echo?i=5", {}, "") +
            req("GET", "/hello?i=6"),
        );
        const [r0, r1, r2, r3, r4, r5, r6] = await c.readResponses(["GET", "POST", "HEAD", "POST", "GET", "POST", "GET"]);
        expect(r0!.text()).toBe("hello 0");
        expect(r1!.status).toBe(200);
        expect(r1!.header("x-i")).toBe("1");
        expect(r1!.text()).toBe("body-one");
        expect(r2!.status).toBe(200);
        expect(r2!.header("content-length")).toBe("10");
        expect(r2!.body.length).toBe(0);
        const sum = JSON.parse(r3!.text());
        expect(sum).toMatchObject({ sha256: sha256("abcdefg"), bytes: 7 });
        expect(r4!.status).toBe(204);
        expect(r5!.status).toBe(200);
        expect(r5!.header("x-i")).toBe("5");
        expect(r5!.body.length).toBe(0);
        expect(r6!.text()).toBe("hello 6");
        await c.expectQuiet(50);
      });
    });
  });

  describe("chunked transfer coding", () => {
    it("decodes a chunked request body with chunk extensions and a trailer section", async () => {
      await withRaw(server, async (c) => {
        const alphabet = "abcdefghijklmnopqrstuvwxyz";
        await c.write(
          "POST /sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
            "5;ext=1\r\nhello\r\n" +
            '6;name="quoted val";flag\r\n world\r\n' +
            `1A\r\n${alphabet}\r\n` +
            "0\r\nX-Checksum: whatever\r\nX-Other: 1\r\n\r\n",
        );
        const r = await c.readResponse({ method: "POST" });
        expect(r.status).toBe(200);
        const expected = `hello world${alphabet}`;
        expect(JSON.parse(r.text())).toMatchObject({ sha256: sha256(expected), bytes: expected.length, method: "POST" });
        // the trailer section was consumed: the next request parses cleanly
        await c.write(req("GET", "/hello?i=after-trailer"));
        const next = await c.readResponse();
        expect(next.status).toBe(200);
        expect(next.text()).toBe("hello after-trailer");
      });
    });

    it("decodes a chunked request body that arrives in small, split writes", async () => {
      await withRaw(server, async (c) => {
        const payload = "The quick brown fox jumps over the lazy dog. ".repeat(20);
        let wire = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (let i = 0; i < payload.length; i += 97) {
          const part = payload.slice(i, i + 97);
          wire += `${part.length.toString(16)};i=${i}\r\n${part}\r\n`;
        }
        wire += "0\r\n\r\n";
        // cut the bytes at awkward places: inside size lines, CRLFs and data
        for (let i = 0; i < wire.length; i += 13) {
          await c.write(wire.slice(i, i + 13));
          if (i % 130 === 0) await sleep(2);
        }
        const r = await c.readResponse({ method: "POST" });
        expect(r.status).toBe(200);
        expect(r.text()).toBe(payload);
      });
    });

    it("sends a streamed response as chunks on the wire, without content-length", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/chunked?parts=5&delay=20"));
        const r = await c.readResponse();
        expect(r.status).toBe(200);
        expect(r.header("transfer-encoding")?.toLowerCase()).toBe("chunked");
        expect(r.header("content-length")).toBeNull();
        expect(r.text()).toBe("chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
        // written as it was produced, not buffered into one chunk
        expect(r.chunkCount).toBeGreaterThanOrEqual(2);
        // the terminating chunk was sent: the connection serves the next request
        await c.write(req("GET", "/hello?i=next"));
        expect((await c.readResponse()).text()).toBe("hello next");
      });
    });

    it("delivers the first chunk before the stream has finished", async () => {
      const t0 = Date.now();
      const r = await get("/chunked?parts=2&delay=1500");
      expect(r.status).toBe(200);
      const reader = r.body!.getReader();
      const first = await reader.read();
      const firstAt = Date.now() - t0;
      // the producer waits 1500 ms before its second chunk
      expect(firstAt, `first body bytes arrived only after ${firstAt} ms`).toBeLessThan(1200);
      expect(new TextDecoder().decode(first.value)).toBe("chunk 0\n");
      let rest = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      expect(rest).toBe("chunk 1\n");
    });
  });

  describe("large bodies (10 MiB)", () => {
    const N = 10 * MiB;

    it("receives a 10 MiB upload with content-length intact (sha-256)", async () => {
      const body = prng.bytes(N, 7);
      const r = await get("/sha256", { method: "POST", body });
      expect(r.status).toBe(200);
      const got = await r.json();
      expect(got.bytes).toBe(N);
      expect(got.sha256).toBe(sha256(body));
      expect(got.contentLength).toBe(String(N));
    });

    it("receives a 10 MiB streamed (chunked) upload intact (sha-256)", async () => {
      const expected = sha256(prng.bytes(N, 11));
      const r = await get("/sha256", {
        method: "POST",
        body: prng.stream(N, 11, 100_000),
        duplex: "half", // undici needs this for a stream body
      } as RequestInit);
      expect(r.status).toBe(200);
      const got = await r.json();
      expect(got.bytes).toBe(N);
      expect(got.sha256).toBe(expected);
    });

    it("sends a 10 MiB streamed download intact (sha-256)", async () => {
      const expected = sha256(prng.bytes(N, 3));
      const r = await get(`/download?n=${N}&seed=3`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-length")).toBeNull();
      const got = await hashBody(r);
      expect(got.bytes).toBe(N);
      expect(got.sha256).toBe(expected);
    });

    it("sends a 10 MiB known-length download intact (sha-256)", async () => {
      const expected = sha256(prng.bytes(N, 5));
      const r = await get(`/fixed?n=${N}&seed=5`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-length")).toBe(String(N));
      const got = await hashBody(r);
      expect(got.bytes).toBe(N);
      expect(got.sha256).toBe(expected);
    });

    it("echoes a 10 MiB body streamed through the handler (sha-256)", async () => {
      const body = prng.bytes(N, 13);
      const r = await get("/echo", { method: "POST", body, headers: { "content-type": "application/x-test" } });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("application/x-test");
      const got = await hashBody(r);
      expect(got.bytes).toBe(N);
      expect(got.sha256).toBe(sha256(body));
    });
  });

  describe("responses without a body: HEAD, 204, 304", () => {
    it("HEAD sends the headers, keeps content-length, and no body bytes", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("HEAD", "/fixed?n=12345"));
        const r = await c.readResponse({ method: "HEAD" });
        expect(r.status).toBe(200);
        expect(r.header("content-length")).toBe("12345");
        expect(r.header("content-type")).toBe("application/octet-stream");
        await c.expectQuiet(150);
        await c.write(req("GET", "/hello?i=after-head"));
        const next = await c.readResponse();
        expect(next.status).toBe(200);
        expect(next.text()).toBe("hello after-head");
      });
    });

    it("HEAD on a streamed resource sends no body bytes either", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("HEAD", "/download?n=50000"));
        const r = await c.readResponse({ method: "HEAD" });
        expect(r.status).toBe(200);
        const cl = r.header("content-length");
        if (cl !== null) expect(cl).toBe("50000");
        await c.expectQuiet(150);
        await c.write(req("GET", "/hello?i=after-head"));
        expect((await c.readResponse()).text()).toBe("hello after-head");
      });
    });

    it("HEAD through fetch: status and content-length as for GET, empty body", async () => {
      const r = await get("/fixed?n=4321", { method: "HEAD" });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-length")).toBe("4321");
      expect((await r.arrayBuffer()).byteLength).toBe(0);
    });

    it("204 has no body and no content-length / transfer-encoding; the connection stays usable", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/status/204"));
        const r = await c.readResponse();
        expect(r.status).toBe(204);
        expect(r.header("x-status")).toBe("204");
        expect(r.header("content-length")).toBeNull();
        expect(r.header("transfer-encoding")).toBeNull();
        await c.expectQuiet(150);
        await c.write(req("GET", "/hello?i=after-204"));
        const next = await c.readResponse();
        expect(next.status).toBe(200);
        expect(next.text()).toBe("hello after-204");
      });
    });

    it("304 has no body; the connection stays usable", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/status/304", { "if-none-match": '"v1"' }));
        const r = await c.readResponse();
        expect(r.status).toBe(304);
        expect(r.header("etag")).toBe('"v1"');
        await c.expectQuiet(150);
        await c.write(req("GET", "/hello?i=after-304"));
        const next = await c.readResponse();
        expect(next.status).toBe(200);
        expect(next.text()).toBe("hello after-304");
      });
    });

    it("204 and 304 pipelined between other requests leave no stray bytes", async () => {
      await withRaw(server, async (c) => {
        await c.write(
          req("GET", "/status/204") + req("GET", "/hello?i=1") + req("GET", "/status/304") + req("GET", "/hello?i=3"),
        );
        const rs = await c.readResponses(["GET", "GET", "GET", "GET"]);
        expect(rs.map((r) => r.status)).toEqual([204, 200, 304, 200]);
        expect(rs[1]!.text()).toBe("hello 1");
        expect(rs[3]!.text()).toBe("hello 3");
        await c.expectQuiet(50);
      });
    });
  });

  describe("client disconnect", () => {
    /** Sends /slow-abort, waits until the handler runs, then drops the connection. */
    async function dropMidRequest(id: string, how: "close" | "reset") {
      const c = await RawClient.connect(server.port);
      try {
        await c.write(req("GET", `/slow-abort?id=${id}`));
        const started = await eventually(() => state(id), (s) => s.state?.started === true);
        expect(started.state?.started, "the /slow-abort handler never started").toBe(true);
      } finally {
        if (how === "reset") c.reset();
        else c.destroy();
      }
    }

    it("aborts request.signal when the client closes its socket mid-request (FIN)", async () => {
      const id = uniqueId("abort-fin");
      const before = (await state(id)).abortCount;
      await dropMidRequest(id, "close");
      const after = await eventually(() => state(id), (s) => s.state?.aborted === true, 5000);
      expect(after.state?.aborted).toBe(true);
      expect(after.abortCount).toBeGreaterThan(before);
    });

    it("aborts request.signal when the connection is reset mid-request (RST)", async () => {
      const id = uniqueId("abort-rst");
      await dropMidRequest(id, "reset");
      const after = await eventually(() => state(id), (s) => s.state?.aborted === true, 5000);
      expect(after.state?.aborted).toBe(true);
    });

    it("settles info.completed for a request whose connection died", async () => {
      const id = uniqueId("abort-completed");
      await dropMidRequest(id, "reset");
      const s = await eventually(() => state(id), (s) => s.state?.completed != null, 5000);
      expect(s.state?.completed).not.toBeNull();
    });

    it("settles info.completed once a normal response has been written, without aborting", async () => {
      const id = uniqueId("track");
      const r = await get(`/track?id=${id}`);
      expect(await r.text()).toBe("tracked");
      const s = await eventually(() => state(id), (s) => s.state?.completed != null);
      expect(s.state?.completed).toBe("resolved");
      expect(s.state?.aborted).toBe(false);
    });

    it("a large body handed over in one piece: completed waits for it to leave, and a client gone before aborts", async () => {
      const id = uniqueId("big");
      // A client that reads the head and a little, then stops reading.
      const socket = net.connect(server.port, "127.0.0.1");
      await new Promise((r) => socket.once("connect", r));
      socket.write(req("GET", `/track-big?id=${id}`));
      await new Promise((r) => socket.once("data", r));
      socket.pause();
      await eventually(() => state(id), (s) => s.state?.started === true);
      await new Promise((r) => setTimeout(r, 300));
      // 32 MiB cannot all have left: the response is not written yet.
      expect((await state(id)).state).toMatchObject({ completed: null, aborted: false });
      socket.destroy();
      const after = await eventually(() => state(id), (s) => s.state?.aborted === true, 5000);
      expect(after.state?.aborted).toBe(true);
      expect((await eventually(() => state(id), (s) => s.state?.completed != null, 5000)).state?.completed)
        .toBe("resolved");
    });

    it("keeps serving other clients after a disconnect", async () => {
      const r = await get("/hello?i=still-here");
      expect(await r.text()).toBe("hello still-here");
    });
  });

  describe("handler errors", () => {
    for (const [path, what] of [
      ["/throw", "throws synchronously"],
      ["/throw-async", "rejects"],
      ["/bad", "returns something that is not a Response"],
      ["/bad-then", "returns an object whose `then` getter throws"],
    ] as const) {
      it(`a handler that ${what} gives 500 and the connection serves the next request`, async () => {
        await withRaw(server, async (c) => {
          await c.write(req("GET", path));
          const r = await c.readResponse();
          expect(r.status).toBe(500);
          expect(r.header("connection") ?? "").not.toMatch(/close/i);
          await c.write(req("GET", "/hello?i=after-error"));
          const next = await c.readResponse();
          expect(next.status).toBe(200);
          expect(next.text()).toBe("hello after-error");
        });
      });
    }

    it("a handler that returns a thenable (not a Promise) is answered with what it resolves to", async () => {
      const r = await get("/thenable");
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("from a thenable");
    });

    it("a failing request in a pipeline does not disturb its neighbours", async () => {
      await withRaw(server, async (c) => {
        await c.write(req("GET", "/hello?i=0") + req("GET", "/throw") + req("GET", "/hello?i=2"));
        const rs = await c.readResponses(["GET", "GET", "GET"]);
        expect(rs.map((r) => r.status)).toEqual([200, 500, 200]);
        expect(rs[0]!.text()).toBe("hello 0");
        expect(rs[2]!.text()).toBe("hello 2");
      });
    });
  });

  describe("a Hono app (serve({ fetch: app.fetch }))", () => {
    let hono: RunningServer;
    beforeAll(async () => {
      hono = await startServer(runtime, "hono.mjs");
    });
    afterAll(async () => {
      await hono?.stop();
    });
    const h = (path: string, init?: RequestInit) =>
      fetch(hono.url + path, { signal: AbortSignal.timeout(20_000), ...init });

    it("routes with params", async () => {
      const r = await h("/users/42");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^application\/json/);
      expect(r.headers.get("x-powered-by")).toBe("hono+portico");
      expect(await r.json()).toEqual({ id: "42", runtime });

      const r2 = await h("/posts/7/comments/abc");
      expect(await r2.json()).toEqual({ postId: "7", commentId: "abc" });

      const r3 = await h("/files/a/b/c.txt");
      expect(await r3.text()).toBe("file path: /files/a/b/c.txt");

      const r4 = await h("/search?q=portico&tag=a&tag=b");
      expect(await r4.json()).toEqual({ q: "portico", tags: ["a", "b"] });
    });

    it("text, html and not-found", async () => {
      const t = await h("/");
      expect(t.status).toBe(200);
      expect(t.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await t.text()).toBe("Hono on portico");

      const p = await h("/page");
      expect(p.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await p.text()).toBe("<!doctype html><h1>Hello from Hono</h1>");

      const nf = await h("/nope");
      expect(nf.status).toBe(404);
      expect(await nf.text()).toBe("hono: not found");
    });

    it("JSON request and response bodies, other methods", async () => {
      const r = await h("/json", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hello: "world", n: [1, 2, 3] }),
      });
      expect(r.status).toBe(201);
      expect(await r.json()).toEqual({ received: { hello: "world", n: [1, 2, 3] }, contentType: "application/json" });

      const put = await h("/users/9", { method: "PUT", body: "new name" });
      expect(await put.json()).toEqual({ updated: "9", body: "new name" });

      const del = await h("/users/9", { method: "DELETE" });
      expect(del.status).toBe(204);
      expect(await del.text()).toBe("");
    });

    it("request and response headers, redirects", async () => {
      const r = await h("/headers", { headers: { "x-test": "from-client" } });
      expect(r.headers.get("x-custom")).toBe("custom-value");
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(await r.text()).toBe("you sent x-test: from-client");

      const red = await h("/redirect", { redirect: "manual" });
      expect(red.status).toBe(302);
      expect(red.headers.get("location")).toBe("/users/42");
    });

    it("cookies: several Set-Cookie fields, read back from Cookie", async () => {
      const r = await h("/cookie/set");
      expect(await r.text()).toBe("cookies set");
      const cookies = r.headers.getSetCookie();
      expect(cookies).toHaveLength(2);
      expect(cookies[0]).toMatch(/^session=abc123;/);
      expect(cookies[0]).toMatch(/HttpOnly/);
      expect(cookies[0]).toMatch(/SameSite=Lax/);
      expect(cookies[1]).toMatch(/^theme=dark;/);
      expect(cookies[1]).toMatch(/Max-Age=3600/);

      // on the wire: one field line per cookie, never folded into one
      await withRaw(hono, async (c) => {
        await c.write(req("GET", "/cookie/set"));
        const raw = await c.readResponse();
        expect(raw.headerAll("set-cookie")).toHaveLength(2);
      });

      const back = await h("/cookie/get", { headers: { cookie: "session=abc123; theme=dark" } });
      expect(await back.json()).toEqual({ session: "abc123", all: { session: "abc123", theme: "dark" } });

      const del = await h("/cookie/delete");
      expect(del.headers.getSetCookie()[0]).toMatch(/^session=;.*Max-Age=0/);
    });

    it("streamText streams chunks (chunked on the wire)", async () => {
      const r = await h("/stream");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await r.text()).toBe("line 0\nline 1\nline 2\nline 3\nline 4\n");

      await withRaw(hono, async (c) => {
        await c.write(req("GET", "/stream"));
        const raw = await c.readResponse();
        expect(raw.header("transfer-encoding")?.toLowerCase()).toBe("chunked");
        expect(raw.header("content-length")).toBeNull();
        expect(raw.text()).toBe("line 0\nline 1\nline 2\nline 3\nline 4\n");
        expect(raw.chunkCount).toBeGreaterThanOrEqual(2);
        await c.write(req("GET", "/users/1"));
        expect(JSON.parse((await c.readResponse()).text())).toEqual({ id: "1", runtime });
      });

      const b = await h("/stream-bytes");
      const bytes = new Uint8Array(await b.arrayBuffer());
      expect(bytes.length).toBe(4000);
      expect([bytes[0], bytes[1000], bytes[2000], bytes[3999]]).toEqual([65, 66, 67, 68]);
    });

    it("app.onError answers a throwing route", async () => {
      const r = await h("/error");
      expect(r.status).toBe(500);
      expect(await r.text()).toBe("hono error: hono route failed");
      const ok = await h("/");
      expect(ok.status).toBe(200);
    });

    it("the Hono server process survived every scenario above", () => {
      const exited = hono.child.exitCode !== null || hono.child.signalCode !== null;
      expect(exited, `hono server exited; stderr:\n${hono.stderr().slice(-3000)}`).toBe(false);
    });
  });

  it("the server process survived every scenario above", () => {
    const exited = server.child.exitCode !== null || server.child.signalCode !== null;
    expect(
      exited,
      `${runtime} server exited (code ${server.child.exitCode}, signal ${server.child.signalCode}); stderr:\n${server.stderr().slice(-3000)}`,
    ).toBe(false);
  });
});
