/**
 * Continuations in Redis: a real redis-server on a random loopback port and
 * three portico processes, one per runtime (node, deno, bun), sharing it.
 * Every walk starts on each runtime in turn and continues on the others.
 */
import { spawn } from "node:child_process";
import http from "node:http";
import os from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  commandFor,
  printStderrOnFailure,
  projectRoot,
  RUNTIMES,
  type RunningServer,
  startServer,
} from "../helpers/runtime.ts";
import { freePort, type RedisServer, startRedis } from "../helpers/redis.ts";

async function page(base: string, path: string, init?: RequestInit) {
  const res = await fetch(base + path, { redirect: "manual", ...init });
  const text = await res.text();
  const links = [...text.matchAll(/(?:href|action)="([^"]+)"/g)].map((m) => m[1].replaceAll("&amp;", "&"));
  return { status: res.status, text, links };
}

let redis: RedisServer;
let servers: RunningServer[] = [];
// The three processes in the order [start, second step, third step] for walk i.
const rotation = (i: number) => [0, 1, 2].map((j) => servers[(i + j) % 3]);

beforeAll(async () => {
  redis = await startRedis();
  servers = await Promise.all(
    RUNTIMES.map((r) => startServer(r, "redis_app.mjs", { env: { REDIS_URL: redis.url } })),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await redis?.stop();
});

beforeEach((ctx) => {
  for (const s of servers) printStderrOnFailure(ctx, s.runtime, () => s);
});

describe("continuations in Redis shared by node, deno and bun", () => {
  it("walks sum2 across the three runtimes, each step on another process", async () => {
    for (let i = 0; i < 6; i++) {
      const [a, b, c] = rotation(i);
      const [k1] = (await page(a.url, "/sum2/")).links;
      expect(k1).toMatch(/^\/sum2\/k\/[A-Za-z0-9_-]{22}$/);
      const [k2] = (await page(b.url, `${k1}?number=${i}`)).links;
      expect((await page(c.url, `${k2}?number=40`)).text).toContain(`The sum is ${i + 40}`);
    }
  });

  it("answers the back button on another process, and every window buys its own book", async () => {
    const [a, b, c] = servers;
    const [k1] = (await page(a.url, "/sum2/")).links;
    const [k2] = (await page(a.url, `${k1}?number=30`)).links;
    expect((await page(a.url, `${k2}?number=12`)).text).toContain("The sum is 42");
    expect((await page(b.url, `${k2}?number=3`)).text).toContain("The sum is 33"); // back, on deno
    expect((await page(c.url, `${k1}?number=1`)).text).toContain("Second number:"); // further back, on bun
    const list = await page(c.url, "/books/");
    const w2 = await page(a.url, list.links[0]);
    const w3 = await page(b.url, list.links[1]);
    expect((await page(b.url, w2.links[0])).text).toContain("You bought How to Design Programs");
    expect((await page(a.url, w3.links[0])).text).toContain("You bought Structure and Interpretation");
  });

  it("uses the parked run in the same process, and replays elsewhere", async () => {
    for (const s of servers) {
      const before = (await (await fetch(s.url + "/runs")).json()).runs;
      const [k1] = (await page(s.url, "/counted/")).links;
      const [k2] = (await page(s.url, `${k1}?number=1`)).links;
      expect((await page(s.url, `${k2}?number=2`)).text).toContain("The sum is 3");
      expect((await (await fetch(s.url + "/runs")).json()).runs).toBe(before + 1); // no replay
    }
    const [a, b] = servers;
    const before = (await (await fetch(b.url + "/runs")).json()).runs;
    const [k1] = (await page(a.url, "/counted/")).links;
    expect((await page(b.url, `${k1}?number=1`)).text).toContain("Second number:");
    expect((await (await fetch(b.url + "/runs")).json()).runs).toBe(before + 1); // a replay on b
  });

  it("expires earlier k-URLs on every process after sendForward and sendFinish", async () => {
    const [a, b, c] = servers;
    const [k1] = (await page(a.url, "/forward/")).links;
    const [k2] = (await page(b.url, k1)).links;
    for (const s of servers) expect((await page(s.url, k1)).text).toContain("This page has expired");
    expect((await page(c.url, k2)).text).toContain("forwarded and done");
    const [f1] = (await page(c.url, "/finish/")).links;
    expect((await page(c.url, f1)).text).toContain("finished"); // the live run, on bun
    for (const s of servers) expect((await page(s.url, f1)).status).toBe(404);
  });

  it("answers unknown, malformed and expired (PX) k-URLs with the expired page on every process", async () => {
    const [k1] = (await page(servers[0].url, "/short/")).links;
    expect((await page(servers[1].url, `${k1}?number=1`)).text).toContain("Second number:");
    const [k2] = (await page(servers[0].url, "/short/")).links;
    await new Promise((r) => setTimeout(r, 600));
    for (const s of servers) {
      for (const path of ["/sum2/k/AAAAAAAAAAAAAAAAAAAAAA", "/sum2/k/nope", `${k2}`]) {
        const res = await page(s.url, `${path}?number=1`);
        expect(res.status, `${s.runtime} ${path}`).toBe(404);
        expect(res.text).toContain("This page has expired");
      }
    }
    const keys = await redis.command("--scan", "--pattern", "portico-test:k:*");
    expect(keys).not.toContain(k2.slice("/short/k/".length));
  });

  it("resumes after the process that made the k-URL was killed and restarted", async () => {
    for (let i = 0; i < 3; i++) {
      const [k1] = (await page(servers[i].url, "/sum2/")).links;
      const [k2] = (await page(servers[i].url, `${k1}?number=${i}`)).links;
      servers[i].child.kill("SIGKILL");
      await servers[i].stop();
      servers[i] = await startServer(RUNTIMES[i], "redis_app.mjs", { env: { REDIS_URL: redis.url } });
      expect((await page(servers[i].url, `${k2}?number=10`)).text).toContain(`The sum is ${i + 10}`);
      expect((await page(servers[i].url, `${k1}?number=5`)).text).toContain("Second number:");
    }
  }, 60_000);

  it("keeps ids unguessable: 128-bit random, base64url", async () => {
    const ids = new Set<string>();
    for (const s of servers) {
      for (let i = 0; i < 20; i++) ids.add((await page(s.url, "/sum2/")).links[0].slice("/sum2/k/".length));
    }
    expect(ids.size).toBe(60);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("bounds the stored log (maxLogBytes) with a 413", async () => {
    const [a, b] = servers;
    const [k] = (await page(a.url, "/big/")).links;
    const res = await page(b.url, k, { method: "POST", body: "x=" + "y".repeat(4000) });
    expect(res.status).toBe(413);
    expect(res.text).toContain("maxLogBytes");
    const [k2] = (await page(a.url, "/big/")).links;
    expect((await page(b.url, k2, { method: "POST", body: "x=small" })).text).toContain("got 7 bytes");
  });

  it("closes its store connections with the server: the process exits by itself", async () => {
    const extra = await Promise.all(
      RUNTIMES.map((r) => startServer(r, "redis_app.mjs", { env: { REDIS_URL: redis.url } })),
    );
    try {
      await Promise.all(extra.map(async (s) => {
        const first = await page(s.url, "/sum2/");
        expect(first.status, `${s.runtime}: ${first.text}`).toBe(200);
        expect((await page(s.url, `${first.links[0]}?number=1`)).text).toContain("Second number:");
        const exited = new Promise((r) => s.child.once("exit", (code) => r(code)));
        expect(await (await fetch(s.url + "/group-shutdown")).text()).toBe("bye");
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 5000))]);
        expect(code, s.runtime).toBe(0);
      }));
    } finally {
      await Promise.all(extra.map((s) => s.stop()));
    }
  }, 30_000);

  it("answers 503 while the store is slow or down, never crashes or hangs, and recovers by itself", async () => {
    const [k1] = (await page(servers[0].url, "/sum2/")).links;
    for (const s of servers) expect((await page(s.url, "/sum2/")).status).toBe(200); // each connected once
    // Slow: the store sleeps 4 s; the manager's timeout is 1 s. Every
    // request is answered (503) before the store answers again.
    const sleeping = redis.command("DEBUG", "SLEEP", "4");
    await redis.asleep();
    const t0 = Date.now();
    const slow = await Promise.all(servers.map((s) => page(s.url, `${k1}?number=1`)));
    expect(Date.now() - t0).toBeLessThan(3500);
    for (const r of slow) {
      expect(r.status).toBe(503);
      expect(r.text).toContain("session store cannot be reached");
    }
    await sleeping;
    // Down.
    await redis.stop();
    for (const s of servers) {
      const down = await page(s.url, "/sum2/");
      expect(down.status, s.runtime).toBe(503);
      expect(down.text).toContain("session store cannot be reached");
      expect((await page(s.url, `${k1}?number=1`)).status).toBe(503);
      expect((await page(s.url, "/whoami")).text).toContain(s.runtime);
    }
    // Back (empty: the store kept nothing): new walks work on every process.
    await redis.start();
    const until = Date.now() + 10_000;
    for (const s of servers) {
      while ((await page(s.url, "/sum2/")).status !== 200) {
        expect(Date.now()).toBeLessThan(until);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (let i = 0; i < 3; i++) {
      const [a, b, c] = rotation(i);
      const [n1] = (await page(a.url, "/sum2/")).links;
      const [n2] = (await page(b.url, `${n1}?number=2`)).links;
      expect((await page(c.url, `${n2}?number=3`)).text).toContain("The sum is 5");
    }
    for (const s of servers) {
      expect(s.child.exitCode).toBe(null);
      expect(s.stderr()).toContain("is unreachable");
      expect(s.stderr().match(/is unreachable/g)!.length).toBeLessThanOrEqual(2); // once per outage
      expect(s.stderr()).toContain("reachable again");
    }
  }, 30_000);
});

describe("a store that refuses connections from the start", () => {
  it.each(RUNTIMES)("answers a process's first servlet request 503 at once on %s, not after the 5 s first-connect deadline", async (runtime) => {
    const dead = `redis://127.0.0.1:${await freePort()}`; // nothing listens there
    const s = await startServer(runtime, "redis_app.mjs", { env: { REDIS_URL: dead } });
    try {
      const t0 = Date.now();
      const r = await page(s.url, "/sum2/");
      const ms = Date.now() - t0;
      expect(r.status).toBe(503);
      expect(r.text).toContain("session store cannot be reached");
      // The refusal fails the request (ECONNREFUSED); before, it waited out the 5 s deadline.
      expect(ms).toBeLessThan(2500);
      expect(s.stderr()).toContain("is unreachable");
      expect((await page(s.url, "/whoami")).text).toContain(runtime); // the rest of the app answers
    } finally {
      await s.stop();
    }
  }, 20_000);
});

/** A GET on a fresh connection (so the kernel or node:cluster may pick another worker each time). */
function fresh(port: number, path: string): Promise<{ status: number; text: string; link: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () =>
        resolve({ status: res.statusCode!, text, link: (/action="([^"]+)"/.exec(text) ?? [])[1]?.replaceAll("&amp;", "&") }));
    }).on("error", reject);
  });
}

describe.each(RUNTIMES)("examples/cluster.ts with REDIS_URL on %s", (runtime) => {
  it("walks sum2 20 times over the workers with no expired page", async () => {
    const port = await freePort();
    const file = runtime === "node" ? "dist/examples/cluster.js" : "examples/cluster.ts";
    const [cmd, args] = commandFor(runtime, file, ["--host", "127.0.0.1", "--port", String(port)]);
    const child = spawn(cmd, args, {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: "1", REDIS_URL: redis.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      while ((out.match(/Listening on/g) ?? []).length < os.availableParallelism()) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`cluster example did not start\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      for (let i = 0; i < 20; i++) {
        const first = await fresh(port, "/sum2/");
        const second = await fresh(port, `${first.link}?number=${i}`);
        expect(second.text, out).toContain("Second number:");
        expect((await fresh(port, `${second.link}?number=100`)).text).toContain(`The sum is ${i + 100}`);
      }
      expect((await fresh(port, "/hello")).text).toContain("Hello, World!");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 60_000);
});
