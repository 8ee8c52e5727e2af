import { describe, expect, it } from "vitest";
import { BOOKS, books, sum2 } from "../../examples/tutorial_app.ts";
import { html } from "../html/html.ts";
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
