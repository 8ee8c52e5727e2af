/**
 * The servlets of Racket's "More: Systems Programming" tutorial, in portico:
 * `hello`, `many`, `sum` (hidden fields), `sum2` (continuations), plus the
 * bookstore of Krishnamurthi et al. (2007) for the back-button and
 * cloned-window tests. `examples/tutorial.ts` serves them on port 8000.
 */
import { html, htmlResponse, type HtmlValue, type Page, query, Router, servlet, type Web } from "portico";

/** The cap on `many`: a huge number must not exhaust memory. */
export const MANY_LIMIT = 1000;

export const BOOKS: string[] = ["How to Design Programs", "Structure and Interpretation", "The Little Schemer"];

function page(title: string, body: HtmlValue): Response {
  return htmlResponse(html`
    <!doctype html>
    <html>
      <head>
        <title>${title}</title>
      </head>
      <body>${body}</body>
    </html>
  `);
}

async function getNumber(web: Web, label: string): Promise<number> {
  for (;;) {
    const req = await web.sendSuspend((kUrl) =>
      page(
        label,
        html`<form action="${kUrl}" method="get">${label} <input type="text" name="number"><input type="submit"></form>`,
      )
    );
    const n = Number(new URL(req.url).searchParams.get("number"));
    if (Number.isFinite(n)) return n;
  }
}

/** `sum2`: the continuation version, in direct style. */
export async function sum2(web: Web): Promise<Page> {
  const a = await getNumber(web, "First number:");
  const b = await getNumber(web, "Second number:");
  return page("Sum", html`<p>The sum is ${a + b}</p>`);
}

/** The bookstore: pick a book (dispatch), look at it, buy it. */
export async function books(web: Web): Promise<Page> {
  const book = await web.sendSuspendDispatch<string>((embed) =>
    page("Books", html`<ul>${BOOKS.map((b) => html`<li><a href="${embed(() => b)}">${b}</a></li>`)}</ul>`)
  );
  await web.sendSuspend((kUrl) => page(book, html`<h1>${book}</h1><a href="${kUrl}">Buy</a>`));
  return page("Bought", html`<p>You bought ${book}</p>`);
}

/** The tutorial's routes. */
export function tutorial(): Router {
  const router = new Router();
  router.get("/hello", () => page("Hello", "Hello, World!"));
  router.get("/many", (req) => {
    const n = Math.min(query(req).optionalNumber("number") ?? 1, MANY_LIMIT);
    if (n < 0 || !Number.isInteger(n)) return page("Many", "number must be a non-negative integer");
    return page("Many", html`${Array.from({ length: n }, () => html`<p>Hello!</p>`)}`);
  });
  // The hidden-field version: the state travels in the form.
  router.get("/sum", (req) => {
    const q = query(req);
    const first = q.optionalNumber("first");
    const second = q.optionalNumber("second");
    if (first === undefined) {
      return page("Sum", html`<form action="/sum">First number: <input name="first"><input type="submit"></form>`);
    }
    if (second === undefined) {
      return page(
        "Sum",
        html`<form action="/sum"><input type="hidden" name="first" value="${first}">
          Second number: <input name="second"><input type="submit"></form>`,
      );
    }
    return page("Sum", html`<p>The sum is ${first + second}</p>`);
  });
  router.mount("/sum2", servlet(sum2));
  router.mount("/books", servlet(books));
  return router;
}
