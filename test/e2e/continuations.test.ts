/**
 * Session continuations over HTTP under node, deno and bun: the tutorial's
 * sum2, the back button, the three-window bookstore, the capped `many`, and a
 * stateless continuation resumed by a second server process.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fdsOf } from "../helpers/groups.ts";
import { RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";
import { eventually } from "../helpers/util.ts";

async function page(base: string, path: string) {
  const res = await fetch(base + path, { redirect: "manual" });
  const text = await res.text();
  const links = [...text.matchAll(/(?:href|action)="([^"]+)"/g)].map((m) => m[1].replaceAll("&amp;", "&"));
  return { status: res.status, text, links };
}

describe.each(RUNTIMES)("continuations on %s", (runtime) => {
  let a: RunningServer;
  let b: RunningServer;
  beforeAll(async () => {
    [a, b] = await Promise.all([
      startServer(runtime, "tutorial.mjs", { env: { SECRET: "e2e-shared-secret" } }),
      // The second one also measures its heap after forcing a collection.
      startServer(runtime, "tutorial.mjs", {
        env: { SECRET: "e2e-shared-secret", NODE_OPTIONS: "--expose-gc", DENO_V8_FLAGS: "--expose-gc" },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("serves hello, a capped many, and the hidden-field sum", async () => {
    expect((await page(a.url, "/hello")).text).toContain("Hello, World!");
    expect((await page(a.url, "/many?number=3")).text.match(/Hello!/g)).toHaveLength(3);
    expect((await page(a.url, "/many?number=1e9")).text.match(/Hello!/g)).toHaveLength(1000);
    expect((await page(a.url, "/sum?first=2&second=3")).text).toContain("The sum is 5");
  });

  it("runs sum2 with k-URLs under the mount path, and the back button re-submits", async () => {
    const first = await page(a.url, "/sum2/");
    const [k1] = first.links;
    expect(k1).toMatch(/^\/sum2\/k\/[A-Za-z0-9_-]{22}$/);
    const [k2] = (await page(a.url, `${k1}?number=30`)).links;
    expect((await page(a.url, `${k2}?number=12`)).text).toContain("The sum is 42");
    expect((await page(a.url, `${k2}?number=3`)).text).toContain("The sum is 33");
    expect((await page(a.url, `${k1}?number=1`)).text).toContain("Second number:");
  });

  it("buys the book of the window where buy was pressed", async () => {
    const list = await page(a.url, "/books/");
    const w2 = await page(a.url, list.links[0]);
    const w3 = await page(a.url, list.links[1]);
    expect((await page(a.url, w2.links[0])).text).toContain("You bought How to Design Programs");
    expect((await page(a.url, w3.links[0])).text).toContain("You bought Structure and Interpretation");
  });

  it("answers an unknown k-URL with the expired page", async () => {
    const res = await page(a.url, "/sum2/k/AAAAAAAAAAAAAAAAAAAAAA?number=1");
    expect(res.status).toBe(404);
    expect(res.text).toContain("This page has expired");
  });

  it("resumes a stateless continuation on a second process sharing the secret", async () => {
    expect((await page(a.url, "/whoami")).text).not.toBe((await page(b.url, "/whoami")).text);
    const [k1] = (await page(a.url, "/stateless/")).links;
    expect(k1).toMatch(/^\/stateless\/s\//);
    const [k2] = (await page(b.url, `${k1}?number=40`)).links;
    expect((await page(a.url, `${k2}?number=2`)).text).toContain("The sum is 42");
    const tampered = k2.slice(0, -3) + (k2.endsWith("A") ? "BBB" : "AAA");
    expect((await page(b.url, `${tampered}?number=2`)).status).toBe(400);
  });

  it("expires the older k-URL after sendForward", async () => {
    const [k1] = (await page(a.url, "/forward/")).links;
    const [k2] = (await page(a.url, k1)).links;
    const stale = await page(a.url, k1);
    expect(stale.status).toBe(404);
    expect(stale.text).toContain("This page has expired");
    expect((await page(a.url, k2)).text).toContain("forwarded and done");
  });

  it("rejects 1,000 tampered stateless tokens with 400 without running the servlet", async () => {
    const [k1] = (await page(a.url, "/stateless/")).links;
    const [k2] = (await page(a.url, `${k1}?number=1`)).links;
    const before = (await (await fetch(a.url + "/stateless-runs")).json()).runs;
    const token = k2.slice("/stateless/s/".length);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const tampered = new Set<string>();
    for (let cut = 1; cut <= 20; cut++) tampered.add(token.slice(0, token.length - cut));
    for (let shift = 1; shift < 64 && tampered.size < 1000; shift++) {
      for (let at = 0; at < token.length && tampered.size < 1000; at++) {
        tampered.add(token.slice(0, at) + alphabet[(alphabet.indexOf(token[at]) + shift) % 64] + token.slice(at + 1));
      }
    }
    expect(tampered.size).toBe(1000);
    const statuses = await Promise.all(
      [...tampered].map((t) => fetch(`${a.url}/stateless/s/${t}?number=2`).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s !== 400)).toEqual([]);
    expect((await (await fetch(a.url + "/stateless-runs")).json()).runs).toBe(before);
  });

  it("closes an instance's timer and resources when the manager evicts its last continuation", async () => {
    await page(a.url, "/evict/?name=first");
    expect((await (await fetch(a.url + "/evict-stats")).json()).closed).toEqual([]);
    await page(a.url, "/evict/?name=second"); // budget 1: evicts first
    const stats = await (await fetch(a.url + "/evict-stats")).json();
    expect(stats.closed).toEqual(["first"]);
    expect(stats.groups).toBe(2); // the servlet's group and the second instance
  });

  it("answers malformed k-URLs with the expired page", async () => {
    for (const bad of ["/sum2/k/abc", "/sum2/k/", "/sum2/k/AAAAAAAAAAAAAAAAAAAAAAAAA", "/sum2/k/x/y"]) {
      const res = await page(a.url, `${bad}?number=1`);
      expect(res.status, bad).toBe(404);
      expect(res.text).toContain("This page has expired");
    }
  });

  it("refuses a stateless token minted by another servlet with 400, and never runs it", async () => {
    const [k1] = (await page(a.url, "/stateless/")).links;
    const token = k1.slice("/stateless/s/".length);
    const swapped = await fetch(`${b.url}/transfer/s/${token}?number=666`);
    expect(swapped.status).toBe(400);
    expect(await swapped.text()).not.toContain("transferred");
    expect((await (await fetch(b.url + "/transfer-runs")).json()).transfers).toBe(0);
    // The transfer's own token works, and the sum refuses it.
    const [t1] = (await page(b.url, "/transfer/")).links;
    expect((await page(b.url, `${t1}?number=7`)).text).toContain("transferred 1000 to 7");
    expect((await fetch(`${a.url}/stateless/s/${t1.slice("/transfer/s/".length)}?number=1`)).status).toBe(400);
  });

  it("answers 414 or 413 to ~4 KiB of incompressible form input to a stateless k-URL", async () => {
    const [k1] = (await page(a.url, "/stateless/")).links;
    const noise = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(3072)))).replace(/[+/=]/g, "_");
    const get = await fetch(`${a.url}${k1}?number=1&x=${noise}`);
    expect(get.status).toBe(414);
    expect(await get.text()).toContain("too large to carry in a continuation URL");
    const post = await fetch(a.url + k1, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `number=1&x=${noise}`,
    });
    expect(post.status).toBe(413);
    await post.text();
    expect((await page(a.url, "/hello")).text).toContain("Hello, World!");
  });

  /** The server's descriptors: what it had before a fault case, and whether it is back there. */
  async function fdBaseline(server: RunningServer) {
    const pid = (await (await fetch(server.url + "/pid")).json()) as number;
    const base = fdsOf(pid, server.port);
    return async () => {
      const now = await eventually(
        () => fdsOf(pid, server.port),
        (f) => f.other <= base.other && f.onPort <= Math.max(base.onPort, 1),
        5000,
      );
      expect(now.other).toBeLessThanOrEqual(base.other);
      expect(now.onPort).toBeLessThanOrEqual(Math.max(base.onPort, 1)); // the test's own keep-alive connection
    };
  }

  it("ends the run at sendBack / sendFinish without await, from several calls deep", async () => {
    const backAtBaseline = await fdBaseline(a);
    const before = (await (await fetch(a.url + "/escape-stats")).json()).after;
    for (let i = 0; i < 3; i++) {
      const [k] = (await page(a.url, "/escape/")).links;
      const base = k.slice(0, k.indexOf("?"));
      const refused = await page(a.url, `${base}?n=-${i + 1}`);
      expect(refused).toMatchObject({ status: 422, text: `refused -${i + 1}` });
      expect((await page(a.url, `${base}?n=0`)).text).toContain("finished at zero");
      expect((await page(a.url, `${base}?n=1`)).status).toBe(404); // sendFinish expired the session
    }
    expect((await (await fetch(a.url + "/escape-stats")).json()).after).toBe(before);
    const [k] = (await page(a.url, "/escape/")).links;
    expect((await page(a.url, k)).text).toContain("value 11");
    expect(a.child.exitCode).toBe(null);
    expect(a.stderr()).not.toMatch(/unhandled|Symbol\(/i);
    await backAtBaseline();
  });

  it("answers 500, at once and saying why, when a servlet forgets the await before sendSuspend", async () => {
    const backAtBaseline = await fdBaseline(a);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(a.url + "/forgot/", { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(500);
      await res.text();
    }
    expect(a.stderr()).toContain("is an `await` missing before it?");
    // (Bun's logged stack quotes source lines: look for the runtimes' own words.)
    expect(a.stderr()).not.toMatch(/Uncaught|UnhandledPromiseRejection|unhandled rejection/i);
    const anyway = await page(a.url, "/forgot-then-page/");
    expect(anyway).toMatchObject({ status: 200 });
    expect(anyway.text).toContain("answered anyway");
    expect((await page(a.url, "/hello")).text).toContain("Hello, World!");
    expect(a.child.exitCode).toBe(null);
    await backAtBaseline();
  });

  it("answers 500 when a servlet throws after resuming, and lives on", async () => {
    const backAtBaseline = await fdBaseline(a);
    const [k] = (await page(a.url, "/throws/")).links;
    expect((await page(a.url, k)).status).toBe(500);
    expect((await page(a.url, k)).status).toBe(500); // the replay throws the same way
    expect(a.stderr()).toContain("servlet failed after resuming");
    expect((await page(a.url, "/hello")).text).toContain("Hello, World!");
    expect(a.child.exitCode).toBe(null);
    await backAtBaseline();
  });

  it("holds an LRU budget of 10,000 while 100,000 sessions are suspended", async () => {
    const run = async (sessions: number) => {
      const perConnection = sessions / 10;
      await Promise.all(Array.from({ length: 10 }, () => pipelined(b.port, "/budget/", perConnection)));
      return (await (await fetch(b.url + "/budget-stats")).json()) as {
        size: number;
        groups: number;
        heap: number;
        collected: boolean;
      };
    };
    const early = await run(20_000);
    expect(early.size).toBe(10_000);
    const late = await run(80_000);
    expect(late.size).toBe(10_000);
    expect(late.groups).toBe(10_001);
    // After a full collection, 80,000 more sessions leave the heap where 20,000 left it.
    expect(early.collected).toBe(true);
    expect(late.heap).toBeLessThan(early.heap * 1.25 + 8 * 1024 * 1024);
  }, 120_000);
});

describe.each(RUNTIMES)("servlet sessions belong to their server on %s", (runtime) => {
  it("ends the sessions' timers at server.group.shutdown(), and the process exits by itself", async () => {
    const server = await startServer(runtime, "servlet_life.mjs");
    try {
      const [k] = (await page(server.url, "/session/")).links;
      expect(k).toMatch(/^\/session\/k\//);
      const t0 = (await (await fetch(server.url + "/ticks")).json()).ticks;
      await new Promise((r) => setTimeout(r, 50));
      expect((await (await fetch(server.url + "/ticks")).json()).ticks).toBeGreaterThan(t0);
      const exited = new Promise<number | null>((r) => server.child.once("exit", (code) => r(code)));
      expect(await (await fetch(server.url + "/group-shutdown")).text()).toBe("bye");
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 5000))]);
      expect(code).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

/** Sends `count` GETs for `path` on one connection, 100 at a time, and waits for every answer. */
function pipelined(port: number, path: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const req = `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    let answered = 0;
    let sent = 0;
    let tail = "";
    const send = () => {
      const n = Math.min(100, count - sent);
      sent += n;
      socket.write(req.repeat(n));
    };
    socket.on("connect", send);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      const text = tail + d;
      // The kept tail is shorter than the marker, so no match is counted twice.
      answered += text.split("HTTP/1.1 200 OK").length - 1;
      tail = text.slice(-14);
      if (answered >= sent && sent < count) send();
      if (answered >= count) {
        socket.end();
        resolve();
      }
    });
    socket.on("error", reject);
  });
}
