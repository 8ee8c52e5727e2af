/**
 * Session continuations over HTTP under node, deno and bun: the tutorial's
 * sum2, the back button, the three-window bookstore, the capped `many`, and a
 * stateless continuation resumed by a second server process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";

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
      startServer(runtime, "tutorial.mjs", { env: { SECRET: "e2e-shared-secret" } }),
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
});
