import { describe, expect, it } from "vitest";
import { BOOKS, books, sum2 } from "../../examples/tutorial_app.ts";
import { html } from "../html/html.ts";
import { ResourceGroup } from "../groups/group.ts";
import type { ServeHandlerInfo } from "../types.ts";
import { Router } from "../router/router.ts";
import { lruManager } from "./manager.ts";
import { type Servlet, servlet, type Web } from "./servlet.ts";

const ORIGIN = "http://app.test";

async function get(app: Servlet, url: string): Promise<{ status: number; text: string; links: string[] }> {
  const res = await app(new Request(new URL(url, ORIGIN)), undefined);
  const text = await res.text();
  const links = [...text.matchAll(/(?:href|action)="([^"]+)"/g)].map((m) => m[1].replaceAll("&amp;", "&"));
  return { status: res.status, text, links };
}

describe("servlet", () => {
  it("runs the sum2 flow in direct style", async () => {
    const app = servlet(sum2);
    const first = await get(app, "/");
    expect(first.text).toContain("First number:");
    const [k1] = first.links;
    expect(k1).toMatch(/^\/k\/[A-Za-z0-9_-]{22}$/);
    const second = await get(app, `${k1}?number=3`);
    expect(second.text).toContain("Second number:");
    const done = await get(app, `${second.links[0]}?number=4`);
    expect(done.text).toContain("The sum is 7");
  });

  it("resumes under a Router mount whose prefix is its own namespace (/k, /s)", async () => {
    // The mount took the prefix off already; taking "/s" off "/s/<token>" again made
    // every stateless k-URL under "/s" start the servlet afresh.
    const router = new Router()
      .mount("/k", servlet(sum2, { manager: lruManager() }))
      .mount("/s", servlet(sum2, { stateless: { secret: "0123456789abcdef0123456789abcdef" } }));
    const app = ((req: Request) => router.fetch(req, undefined as never)) as Servlet;
    for (const prefix of ["/k", "/s"]) {
      const first = await get(app, `${prefix}/`);
      expect(first.links[0].startsWith(`${prefix}/`)).toBe(true);
      const second = await get(app, `${first.links[0]}?number=3`);
      expect(second.text, prefix).toContain("Second number:");
      expect((await get(app, `${second.links[0]}?number=4`)).text).toContain("The sum is 7");
    }
  });

  it("replays an old k-URL: the back button and re-submission", async () => {
    const app = servlet(sum2);
    const [k1] = (await get(app, "/")).links;
    const [k2] = (await get(app, `${k1}?number=10`)).links;
    expect((await get(app, `${k2}?number=1`)).text).toContain("The sum is 11");
    // Back to the second page, a different answer: replay from the log.
    expect((await get(app, `${k2}?number=5`)).text).toContain("The sum is 15");
    // Back to the first page: a new branch, the old one still works.
    const [k2b] = (await get(app, `${k1}?number=100`)).links;
    expect((await get(app, `${k2b}?number=1`)).text).toContain("The sum is 101");
    expect((await get(app, `${k2}?number=2`)).text).toContain("The sum is 12");
  });

  it("buys the book of the window where buy was pressed (Krishnamurthi et al. 2007)", async () => {
    const app = servlet(books);
    const list = await get(app, "/");
    expect(list.links).toHaveLength(BOOKS.length);
    const windowA = await get(app, list.links[0]); // window 2 opens book A
    const windowB = await get(app, list.links[1]); // window 3 opens book B
    expect(windowA.text).toContain(`<h1>${BOOKS[0]}</h1>`);
    expect(windowB.text).toContain(`<h1>${BOOKS[1]}</h1>`);
    expect((await get(app, windowA.links[0])).text).toContain(`You bought ${BOOKS[0]}`);
    expect((await get(app, windowB.links[0])).text).toContain(`You bought ${BOOKS[1]}`);
    // Reloading window 2's buy (now a replay) still buys A.
    expect((await get(app, windowA.links[0])).text).toContain(`You bought ${BOOKS[0]}`);
  });

  it("expires older k-URLs after sendForward, and everything after sendFinish", async () => {
    const app = servlet(async (web: Web) => {
      await web.sendSuspend((k) => html`<a href="${k}">one</a>`);
      await web.sendForward((k) => html`<a href="${k}">two</a>`);
      return web.sendFinish(html`<p>finished</p>`);
    });
    const [k1] = (await get(app, "/")).links;
    const [k2] = (await get(app, k1)).links;
    const stale = await get(app, k1);
    expect(stale.status).toBe(404);
    expect(stale.text).toContain("This page has expired");
    expect((await get(app, k2)).text).toContain("finished");
    expect((await get(app, k2)).status).toBe(404);
  });

  it("answers unknown k-URLs with the expired page, or onExpired", async () => {
    const app = servlet(sum2, { onExpired: () => new Response("gone", { status: 410 }) });
    const res = await get(app, "/k/AAAAAAAAAAAAAAAAAAAAAA?number=1");
    expect(res).toMatchObject({ status: 410, text: "gone" });
  });

  it("logs record() results so that a replay sees the same value", async () => {
    let calls = 0;
    const app = servlet(async (web: Web) => {
      const token = await web.record(() => ++calls);
      await web.sendSuspend((k) => html`<a href="${k}">next</a>`);
      return html`<p>token ${token}</p>`;
    });
    const [k] = (await get(app, "/")).links;
    expect((await get(app, k)).text).toContain("token 1");
    expect((await get(app, k)).text).toContain("token 1"); // replayed: fn not run again
    expect(calls).toBe(1);
  });

  it("sendBack answers from any depth and redirectGet does Post-Redirect-Get", async () => {
    const deep = async (web: Web): Promise<never> => await web.sendBack(new Response("early", { status: 202 }));
    const app = servlet(async (web: Web) => {
      if (new URL(web.request.url).searchParams.has("early")) await deep(web);
      const post = await web.sendSuspend((k) => html`<form method="post" action="${k}"></form>`);
      const get2 = await web.redirectGet();
      return new Response(`${post.method} then ${get2.method}`);
    });
    const early = await app(new Request(`${ORIGIN}/?early`), undefined);
    expect(early.status).toBe(202);
    const [k] = (await get(app, "/")).links;
    const redirect = await app(new Request(ORIGIN + k, { method: "POST", body: "x=1" }), undefined);
    expect(redirect.status).toBe(303);
    expect((await get(app, redirect.headers.get("location")!)).text).toBe("POST then GET");
  });

  it("sendBack and sendFinish without await escape at once, from several calls deep", async () => {
    const after: string[] = [];
    const check = (web: Web, n: number): number => {
      if (n < 0) web.sendBack(new Response("negative", { status: 422 })); // no await, no return
      after.push("check");
      return n;
    };
    const level2 = (web: Web, n: number) => check(web, n) * 2;
    const level3 = async (web: Web, n: number) => {
      await Promise.resolve();
      return level2(web, n) + 1;
    };
    const app = servlet(async (web: Web) => {
      const n = Number(new URL(web.request.url).searchParams.get("n"));
      if (n === 99) web.sendFinish(html`<p>finished early</p>`);
      const v = await level3(web, n);
      after.push("servlet");
      return new Response(`value ${v}`);
    });
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => void rejections.push(e);
    process.on("unhandledRejection", onRejection);
    try {
      expect(await get(app, "/?n=-1")).toMatchObject({ status: 422, text: "negative" });
      expect(await get(app, "/?n=99")).toMatchObject({ status: 200, text: "<p>finished early</p>" });
      expect(after).toEqual([]);
      expect((await get(app, "/?n=4")).text).toBe("value 9");
      await new Promise((r) => setTimeout(r, 20));
      expect(rejections).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  });

  it("a servlet that throws after resuming fails its request (the server answers 500)", async () => {
    const app = servlet(async (web: Web) => {
      await web.sendSuspend((k) => html`<a href="${k}">next</a>`);
      throw new Error("boom after resume");
    });
    const [k] = (await get(app, "/")).links;
    await expect(app(new Request(ORIGIN + k), undefined)).rejects.toThrow("boom after resume");
    await expect(app(new Request(ORIGIN + k), undefined)).rejects.toThrow("boom after resume"); // replayed
  });

  it("answers malformed k-URLs with the expired page and never starts a session", async () => {
    let runs = 0;
    const app = servlet(async (web: Web) => {
      runs++;
      return await sum2(web);
    });
    for (const bad of ["/k", "/k/", "/k/abc", "/k/AAAAAAAAAAAAAAAAAAAAA!", "/k/AAAAAAAAAAAAAAAAAAAAAAA", "/k/x/y/z"]) {
      const res = await get(app, bad + "?number=1");
      expect(res.status, bad).toBe(404);
      expect(res.text).toContain("This page has expired");
    }
    expect(runs).toBe(0);
  });

  it("belongs to the server that serves it: shutting its root group down ends the sessions", async () => {
    const root = new ResourceGroup({ name: "server" });
    const request = root.child({ name: "conn" }).child({ name: "request" });
    const info = { group: request, remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } };
    let ticks = 0;
    const app = servlet(async (web: Web) => {
      web.group.setInterval(() => ticks++, 1);
      await web.sendSuspend((k) => html`<a href="${k}">next</a>`);
      return html`done`;
    });
    await app(new Request(ORIGIN + "/"), info as unknown as ServeHandlerInfo);
    expect(app.group.usage.groups).toBe(2);
    await root.shutdown();
    expect(app.group.closed).toBe(true);
    expect(app.manager.size).toBe(0);
    const seen = ticks;
    await new Promise((r) => setTimeout(r, 20));
    expect(ticks).toBe(seen);
  });

  it("holds an LRU budget of 10,000 while 100,000 sessions are suspended", async () => {
    const manager = lruManager({ maxCount: 10_000 });
    const app = servlet(sum2, { manager });
    const first: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const res = await app(new Request(ORIGIN + "/"), undefined);
      const text = await res.text();
      if (i < 3) first.push(/action="([^"]+)"/.exec(text)![1]);
    }
    expect(manager.size).toBe(10_000);
    expect(app.group.usage.groups).toBe(10_001); // the servlet's group + one per live instance
    expect((await get(app, `${first[0]}?number=1`)).status).toBe(404);
  }, 60_000);

  it("closes an instance's resources when its last continuation is evicted", async () => {
    const manager = lruManager({ maxCount: 1 });
    const closed: string[] = [];
    const app = servlet(async (web: Web) => {
      const name = new URL(web.request.url).searchParams.get("name")!;
      web.group.setInterval(() => {}, 1000);
      web.group.adopt({ close: () => void closed.push(name) });
      await web.sendSuspend((k) => html`<a href="${k}">next</a>`);
      return html`done`;
    }, { manager });
    await get(app, "/?name=a");
    expect(closed).toEqual([]);
    await get(app, "/?name=b"); // evicts a's only continuation
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toEqual(["a"]);
    await app.group.shutdown();
    expect(closed).toEqual(["a", "b"]);
  });
});

describe("stateless servlet", () => {
  it("resumes on a second servlet (another process) that shares the secret", async () => {
    const one = servlet(sum2, { stateless: { secret: "shared" } });
    const two = servlet(sum2, { stateless: { secret: "shared" } });
    const [k1] = (await get(one, "/")).links;
    expect(k1).toMatch(/^\/s\/[A-Za-z0-9_-]+$/);
    const [k2] = (await get(two, `${k1}?number=20`)).links;
    expect((await get(one, `${k2}?number=22`)).text).toContain("The sum is 42");
    expect(one.manager.size + two.manager.size).toBe(0);
  });

  it("rejects 1,000 tampered tokens without running the servlet, and a wrong secret", async () => {
    let runs = 0;
    const app = servlet(async (web: Web) => {
      runs++;
      return await sum2(web);
    }, { stateless: { secret: "s" } });
    const [k1] = (await get(app, "/")).links;
    const [k2] = (await get(app, `${k1}?number=1`)).links;
    runs = 0;
    const token = k2.slice(3);
    let rejected = 0;
    for (const tampered of tamperings(token, 1000)) {
      const res = await app(new Request(`${ORIGIN}/s/${tampered}?number=2`), undefined).catch((e) => e);
      if (res instanceof Error && (res as { status?: number }).status === 400) rejected++;
    }
    expect(rejected).toBe(1000);
    expect(runs).toBe(0);
    const other = servlet(sum2, { stateless: { secret: "other" } });
    await expect(other(new Request(`${ORIGIN}${k2}?number=2`), undefined)).rejects.toMatchObject({ status: 400 });
  });

  it("answers an expired token with the expired page", async () => {
    const app = servlet(sum2, { stateless: { secret: "s", ttl: -1000 } });
    const [k1] = (await get(app, "/")).links;
    expect((await get(app, `${k1}?number=1`)).status).toBe(404);
  });

  it("binds a token to its servlet, its purpose and its code version", async () => {
    let transfers = 0;
    const sum = servlet(sum2, { stateless: { secret: "shared" }, base: "/sa" });
    const transfer = servlet(async (web: Web) => {
      const amount = 1000;
      const req = await web.sendSuspend((k) => html`<form action="${k}">to <input name="number"></form>`);
      transfers++;
      return html`<p>transferred ${amount} to ${new URL(req.url).searchParams.get("number")}</p>`;
    }, { stateless: { secret: "shared" }, base: "/sb" });
    const [k1] = (await get(sum, "/sa/")).links;
    expect(k1).toMatch(/^\/sa\/s\//);
    const token = k1.slice("/sa/s/".length);
    await expect(transfer(new Request(`${ORIGIN}/sb/s/${token}?number=666`), undefined)).rejects.toMatchObject({
      status: 400,
    });
    expect(transfers).toBe(0);
    // Its own servlet takes it; a dispatch index on a plain k-URL does not.
    expect((await get(sum, `${k1}?number=1`)).text).toContain("Second number:");
    await expect(sum(new Request(`${ORIGIN}${k1}/0?number=1`), undefined)).rejects.toMatchObject({ status: 400 });
    // Another version of the code, or another id at the same path, refuses it.
    const v2 = servlet(sum2, { stateless: { secret: "shared", version: "2" }, base: "/sa" });
    await expect(v2(new Request(`${ORIGIN}${k1}?number=1`), undefined)).rejects.toMatchObject({ status: 400 });
    const other = servlet(sum2, { stateless: { secret: "shared", id: "other" }, base: "/sa" });
    await expect(other(new Request(`${ORIGIN}${k1}?number=1`), undefined)).rejects.toMatchObject({ status: 400 });
    // A dispatch page's token without its index is refused before any replay.
    let bookRuns = 0;
    const shop = servlet(async (web: Web) => (bookRuns++, await books(web)), { stateless: { secret: "shared" } });
    const [link] = (await get(shop, "/")).links;
    expect(link).toMatch(/^\/s\/[A-Za-z0-9_-]+\/0$/);
    bookRuns = 0;
    await expect(shop(new Request(ORIGIN + link.slice(0, -2)), undefined)).rejects.toMatchObject({ status: 400 });
    expect(bookRuns).toBe(0);
    expect((await get(shop, link)).text).toContain(BOOKS[0]);
  });

  it("answers 413 or 414 when a form's input would not fit in the URL", async () => {
    const app = servlet(sum2, { stateless: { secret: "s" } });
    const [k1] = (await get(app, "/")).links;
    // About 4 KiB of incompressible input.
    const noise = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(3072)))).replace(/[+/=]/g, "_");
    await expect(app(new Request(`${ORIGIN}${k1}?number=1&x=${noise}`), undefined)).rejects.toMatchObject({
      status: 414,
      message: expect.stringContaining("too large to carry in a continuation URL"),
    });
    const post = await app(
      new Request(ORIGIN + k1, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `number=1&x=${noise}`,
      }),
      undefined,
    ).catch((e) => e);
    expect(post).toMatchObject({ status: 413 });
  });

  it("fails clearly when a log would not fit in the URL", async () => {
    const app = servlet(async (web: Web) => {
      await web.record(() => "x".repeat(20_000).replace(/x/g, () => String.fromCharCode(65 + Math.random() * 26)));
      await web.sendSuspend((k) => html`<a href="${k}">next</a>`);
      return html`never`;
    }, { stateless: { secret: "s" } });
    await expect(app(new Request(ORIGIN + "/"), undefined)).rejects.toThrow(/exceeds maxUrlBytes/);
  });
});

/** `count` distinct variants of `token`: truncations, then single-character substitutions spread over it. */
function tamperings(token: string, count: number): string[] {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const out = new Set<string>();
  for (let cut = 1; cut <= 20 && cut < token.length; cut++) out.add(token.slice(0, token.length - cut));
  for (let shift = 1; shift < 64 && out.size < count; shift++) {
    for (let at = 0; at < token.length && out.size < count; at++) {
      const c = alphabet[(alphabet.indexOf(token[at]) + shift) % 64];
      out.add(token.slice(0, at) + c + token.slice(at + 1));
    }
  }
  return [...out].slice(0, count);
}
