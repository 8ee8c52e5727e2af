import { describe, expect, it } from "vitest";
import { html, htmlResponse, unsafeHtml } from "./html.ts";

describe("html", () => {
  it("escapes interpolations in text and attributes, but not nested html", () => {
    const evil = `"><script>alert('x')</script>&`;
    const inner = html`<b>${evil}</b>`;
    const page = html`<a title="${evil}">${inner}${[1, html`<i>2</i>`, null, false]}</a>`;
    expect(String(page)).toBe(
      `<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">` +
        `<b>&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</b>1<i>2</i></a>`,
    );
    expect(String(html`${unsafeHtml("<br>")}`)).toBe("<br>");
  });

  it("makes a text/html response", async () => {
    const res = htmlResponse(html`<p>${"<hi>"}</p>`, { status: 201 });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe("<p>&lt;hi&gt;</p>");
  });
});
