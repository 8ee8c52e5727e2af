/**
 * `html`: a tagged template whose interpolations are escaped unless they are
 * themselves `html` — the x-expression idea, markup that cannot be injected.
 *
 * @module
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes the five characters that matter in HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Markup known to be safe: the result of `html` or `unsafeHtml`. */
export class Html {
  /** The markup. */
  readonly value: string;
  /** Wraps markup that is already safe; prefer `html` or `unsafeHtml`. */
  constructor(value: string) {
    this.value = value;
  }
  /** The markup, so that `${html}` in a plain string works. */
  toString(): string {
    return this.value;
  }
}

/** What can be interpolated: text (escaped), numbers, `Html`, lists of these; nullish and `false` render nothing. */
export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | HtmlValue[];

function render(v: HtmlValue): string {
  if (v instanceof Html) return v.value;
  if (v === null || v === undefined || v === false || v === true) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

/**
 * Builds markup, escaping every interpolated value that is not itself `Html`.
 *
 * @example
 * ```ts
 * import { html } from "portico";
 * const name = "<script>alert(1)</script>";
 * const page = html`<p title="${name}">Hello, ${name}</p>`;
 * String(page); // <p title="&lt;script&gt;…">Hello, &lt;script&gt;…</p>
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/**
 * Marks a string as markup without escaping it. Only for markup you made
 * or sanitised yourself.
 *
 * @example
 * ```ts
 * import { html, unsafeHtml } from "portico";
 * html`<div>${unsafeHtml("<b>trusted</b>")}</div>`;
 * ```
 */
export function unsafeHtml(markup: string): Html {
  return new Html(markup);
}

/**
 * A `text/html; charset=utf-8` Response from `Html` (or a string, escaped).
 *
 * @example
 * ```ts
 * import { html, htmlResponse } from "portico";
 * const res = htmlResponse(html`<h1>Hi</h1>`, { status: 200 });
 * ```
 */
export function htmlResponse(body: Html | string, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  if (!headers.has("content-type")) headers.set("content-type", "text/html; charset=utf-8");
  return new Response(body instanceof Html ? body.value : escapeHtml(body), { ...init, headers });
}
