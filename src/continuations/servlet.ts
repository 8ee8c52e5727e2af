/**
 * `servlet()`: handlers written in direct style across requests, after the
 * Racket web server's `send/suspend`.
 *
 * A servlet is an async function of `web`. `web.sendSuspend(makePage)`
 * answers the current request with `makePage(kUrl)` and parks the function
 * until a request arrives at `kUrl`; that request is what the call returns.
 *
 * How resumption works. Every suspension is also recorded as a replay log —
 * the inputs (requests, `web.record` values) from the start to that point.
 * The newest suspension of a run resumes the parked function directly (the
 * one-shot fast path). Any other — the back button, a reload, a cloned
 * window — re-runs the servlet from the start, answering each earlier step
 * from the log, and continues live from there. So a servlet must be
 * deterministic apart from `web.record(fn)`, whose result is logged.
 *
 * @module
 */

import { ResourceGroup } from "../groups/group.ts";
import { HttpError } from "../http/errors.ts";
import { escapeHtml, Html, htmlResponse } from "../html/html.ts";
import { splitUrl } from "../http/url.ts";
import { toBase64Url } from "./base64.ts";
import type { Handler, ServeHandlerInfo } from "../types.ts";
import { type Entry, entryOf, entrySize, type HeaderPolicy, type RequestEntry, requestOf } from "./log.ts";
import {
  type Continuation,
  type ContinuationManager,
  ContinuationStoreError,
  Instance,
  lruManager,
  type Parked,
  type Responder,
} from "./manager.ts";
import { StatelessCodec, type StatelessOptions, TokenTooLongError } from "./stateless.ts";

/** What a servlet or a page builder may produce. */
export type Page = Response | Html;

/** An embedded handler of `sendSuspendDispatch`. */
export type EmbeddedHandler<T> = (request: Request) => T | Promise<T>;

/** The web-interaction operations a servlet gets. */
export interface Web {
  /** The request being answered now (the start, or the last resumption). */
  readonly request: Request;
  /** The instance's group: adopted resources close when the session ends. */
  readonly group: ResourceGroup;
  /** Sends `makePage(kUrl)` and resolves with the request that later arrives at kUrl. */
  sendSuspend(makePage: (kUrl: string) => Page | Promise<Page>): Promise<Request>;
  /**
   * Sends `makePage(embedUrl)`; `embedUrl(handler)` makes a URL whose handler's
   * result becomes the value of this call. For pages with several links or buttons.
   */
  sendSuspendDispatch<T>(
    makePage: (embedUrl: (handler: EmbeddedHandler<T>) => string) => Page | Promise<Page>,
  ): Promise<T>;
  /** Drops every earlier continuation of this instance, then suspends. */
  sendForward(makePage: (kUrl: string) => Page | Promise<Page>): Promise<Request>;
  /**
   * Answers now and abandons the rest of the run, from any depth: like
   * Racket's `send/back` it never returns — it throws at once (a value the
   * servlet runner catches; rethrow it if you catch everything), so
   * `web.sendBack(x)`, `await web.sendBack(x)` and `return web.sendBack(x)`
   * all end the run there.
   */
  sendBack(page: Page): never;
  /** Drops every continuation of this instance, answers, and ends the run (throws at once, as `sendBack`). */
  sendFinish(page: Page): never;
  /** Post-Redirect-Get: answers 303 to a fresh k-URL and resolves with the GET that follows. */
  redirectGet(): Promise<Request>;
  /** Runs `fn` once and logs its (JSON) result; a replay returns the logged value. */
  record<T>(fn: () => T | Promise<T>): Promise<T>;
}

/** Options of {@link servlet}. */
export interface ServletOptions {
  /** What keeps continuations; default `lruManager()`. Ignored in stateless mode. */
  manager?: ContinuationManager;
  /** Carry the replay log in the URL, signed, instead of keeping it. */
  stateless?: StatelessOptions;
  /** The answer for an expired or unknown k-URL; default a 404 page that says so. */
  onExpired?: (request: Request) => Response | Promise<Response>;
  /**
   * The path k-URLs live under. Default: the mount path a Router passes
   * (`router.mount("/sum", servlet(...))` → "/sum"), else "".
   */
  base?: string;
  /** Largest request body a servlet step accepts (bodies are logged). Default 64 KiB. */
  maxInputBytes?: number;
  /**
   * The group instances are children of. Default: a group of the servlet's
   * own, shut down (ending every session, its timers and resources, and
   * closing the manager) when any server that served the servlet shuts
   * down — gracefully or with `server.group.shutdown()`.
   */
  group?: ResourceGroup;
}

/** A servlet: a fetch handler, with its manager and group. */
export interface Servlet extends Handler {
  /** The continuation manager (stateful mode). */
  readonly manager: ContinuationManager;
  /** The group every instance's group is a child of; shut it down to end every session. */
  readonly group: ResourceGroup;
}

// What sendBack/sendFinish throw: the run ends there, its answer already given.
/** The error of a suspending operation that started before the previous one returned. */
function missingAwait(name: string): Error {
  return new Error(
    `portico: web.${name}() was called while an earlier web.sendSuspend-like call of the same servlet run ` +
      "was still under way: is an `await` missing before it? Its page and k-URL would lead nowhere.",
  );
}

const ABANDON = Symbol("portico: the run was ended by web.sendBack/sendFinish (rethrow this)");
const EXPIRED = Symbol("portico: continuation expired");
const K_PATH = /^\/k\/([A-Za-z0-9_-]{22})(?:\/(\d{1,4}))?$/;
const S_PATH = /^\/s\/([A-Za-z0-9_-]+)(?:\/(\d{1,4}))?$/;
// The k-URL namespaces: anything under them that does not parse is a
// malformed k-URL (the expired page), never the start of a new session.
const K_SPACE = /^\/k(?:\/|$)/;
const S_SPACE = /^\/s(?:\/|$)/;

function randomId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

/** The answer when the continuation store cannot be reached: 503, saying so, and try again soon. */
function unavailable(e: ContinuationStoreError): Response {
  return new Response(`Service Unavailable: the session store cannot be reached (${e.message}); try again shortly\n`, {
    status: 503,
    headers: { "content-type": "text/plain; charset=utf-8", "retry-after": "1" },
  });
}

function toResponse(page: unknown): Response {
  if (page instanceof Response) return page;
  if (page instanceof Html) return htmlResponse(page);
  throw new TypeError(`a servlet page must be a Response or html\`…\`, not ${typeof page}`);
}

function deferred(): Responder & { promise: Promise<Response> } {
  let resolve!: (r: Response) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Response>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

interface ServletState {
  fn: (web: Web) => Page | Promise<Page>;
  manager: ContinuationManager;
  codec: StatelessCodec | null;
  headers: HeaderPolicy;
  maxInputBytes: number;
}

/**
 * The log would not fit in a stateless URL. When a request's input was the
 * last straw, the client gets 413 (it came in a body) or 414 (in the URL);
 * when the servlet's own recorded values were, that is the servlet's bug
 * and the error stays a 500.
 */
function tooLong(e: TokenTooLongError, log: Entry[]): Error {
  const last = log[log.length - 1];
  if (last?.t !== "req") return e;
  const inBody = last.b !== undefined;
  return new HttpError(
    inBody ? "BODY_TOO_LARGE" : "URI_TOO_LONG",
    `this form's input is too large to carry in a continuation URL (${e.length} bytes > maxUrlBytes ${e.limit})`,
  );
}

/** One execution of the servlet function, live or replaying a log. */
class Run implements Web {
  request!: Request;
  readonly #state: ServletState;
  readonly #instance: Instance;
  readonly #replay: Entry[];
  readonly #origin: string;
  readonly #base: string;
  #cursor = 0;
  #log: Entry[] = [];
  #pending: { request: Request; dispatch: number | undefined } | null;
  #responder: Responder | null;
  // A suspending operation (sendSuspend, sendSuspendDispatch, sendForward,
  // redirectGet) is under way: until it returns, the servlet can only be
  // waiting for it, unless an `await` is missing.
  #suspending = false;
  // Set when a second suspending operation started before the first
  // returned (a missing `await`): the run is answered with this error.
  #broken: Error | null = null;
  // The servlet's function has returned or thrown.
  #ended = false;

  constructor(
    state: ServletState,
    instance: Instance,
    replay: Entry[],
    pending: { request: Request; dispatch: number | undefined } | null,
    responder: Responder,
    origin: string,
    base: string,
  ) {
    this.#state = state;
    this.#instance = instance;
    this.#replay = replay;
    this.#pending = pending;
    this.#responder = responder;
    this.#origin = origin;
    this.#base = base;
  }

  get group(): ResourceGroup {
    return this.#instance.group;
  }

  /** Runs the servlet; `start` is the request that begins a fresh instance. */
  async run(start: { request: Request; path: string } | null): Promise<void> {
    this.#instance.runs++;
    try {
      let first: RequestEntry;
      if (start) {
        first = await entryOf(start.request, start.path, this.#state.headers, this.#state.maxInputBytes);
      } else {
        const e = this.#replay[this.#cursor++];
        if (e?.t !== "req") throw new Error("servlet log does not start with a request");
        first = e;
      }
      this.#log.push(first);
      this.request = requestOf(first, this.#origin, this.#base);
      const result = await this.#state.fn(this);
      this.#respond(toResponse(result));
    } catch (e) {
      if (e !== ABANDON && e !== EXPIRED) {
        if (this.#responder) this.#responder.reject(e);
        else console.error("portico: servlet failed after answering:", e);
      }
    } finally {
      this.#ended = true;
      this.#responder = null;
      this.#instance.runs--;
      this.#instance.closeIfIdle();
    }
  }

  #respond(response: Response): void {
    const r = this.#responder;
    this.#responder = null;
    r?.resolve(response);
  }

  #nondeterministic(expected: string): never {
    throw new Error(
      `servlet is not deterministic: step ${this.#cursor} of its log is not ${expected}; ` +
        "effects must go through web.record()",
    );
  }

  // The next input: from the replay log, or the request that resumed this
  // replay, or null when the run must suspend live.
  async #input(dispatch: boolean): Promise<RequestEntry | null> {
    if (this.#cursor < this.#replay.length) {
      const e = this.#replay[this.#cursor++];
      if (e.t !== "req" || (e.n !== undefined) !== dispatch) {
        this.#nondeterministic(dispatch ? "a dispatch" : "a request");
      }
      this.#log.push(e);
      return e;
    }
    const p = this.#pending;
    if (p === null) return null;
    this.#pending = null;
    if ((p.dispatch !== undefined) !== dispatch) {
      throw new HttpError("BAD_REQUEST", "that link does not belong to this page");
    }
    const e = await entryOf(p.request, "", this.#state.headers, this.#state.maxInputBytes, p.dispatch);
    this.#log.push(e);
    return e;
  }

  async #suspend(build: (url: string) => Page | Promise<Page>, dispatch: boolean, embeds: () => number) {
    const { manager, codec } = this.#state;
    if (codec) {
      let token: string;
      try {
        token = await codec.encode(this.#instance.id, this.#log, { servlet: this.#base, dispatch });
      } catch (e) {
        throw e instanceof TokenTooLongError ? tooLong(e, this.#log) : e;
      }
      const page = toResponse(await build(this.#base + "/s/" + token));
      if (this.#broken) throw ABANDON; // the run answers with the error instead
      this.#respond(page);
      throw ABANDON; // nothing is kept: the URL carries the run
    }
    const log = this.#log.slice();
    let bytes = 0;
    for (const e of log) bytes += entrySize(e);
    const k: Continuation = {
      id: randomId(),
      instance: this.#instance,
      log,
      bytes,
      expires: Date.now() + manager.ttl,
      dispatch,
      embeds: 0,
      park: null,
    };
    const page = toResponse(await build(this.#base + "/k/" + k.id));
    if (this.#broken) throw ABANDON; // the run answers with the error instead
    k.embeds = embeds();
    const resumed = new Promise<{ request: Request; respond: Responder; dispatch: number | undefined }>(
      (resolve, reject) => {
        const park: Parked = {
          resume: (request, respond, n) => resolve({ request, respond, dispatch: n }),
          expire: () => reject(EXPIRED),
        };
        k.park = park;
      },
    );
    // A rejection before anyone awaits it (the store failed) is not an
    // unhandled one: the awaiting below is skipped then.
    resumed.catch(() => {});
    const added = manager.add(k);
    if (added) {
      try {
        await added;
      } catch (e) {
        // The page's link would lead nowhere: answer 503 instead of it.
        if (!(e instanceof ContinuationStoreError)) throw e;
        this.#respond(unavailable(e));
        throw ABANDON;
      }
    }
    this.#respond(page);
    const r = await resumed;
    if (this.#ended) {
      // Nobody awaits this call any more: the servlet went on without it.
      r.respond.reject(this.#broken ?? missingAwait("web.sendSuspend"));
      throw ABANDON;
    }
    this.#responder = r.respond;
    const e = await entryOf(r.request, "", this.#state.headers, this.#state.maxInputBytes, r.dispatch);
    this.#log.push(e);
    return e;
  }

  // Runs a suspending operation, refusing one that starts while another is
  // under way: the servlet did not await the first, so its page and k-URL
  // would lead nowhere and the client that follows it would wait forever.
  // The refusal answers the run's request with a 500 that says so. The
  // returned promise never counts as unhandled: a caller that forgot the
  // `await` must not crash the process.
  #guarded<T>(name: string, op: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    if (this.#suspending) {
      this.#broken ??= missingAwait(name);
      p = Promise.reject(this.#broken);
    } else {
      this.#suspending = true;
      p = op();
      p.then(() => (this.#suspending = false), () => (this.#suspending = false));
    }
    p.catch(() => {});
    return p;
  }

  sendSuspend(makePage: (kUrl: string) => Page | Promise<Page>): Promise<Request> {
    return this.#guarded("sendSuspend", () => this.#sendSuspend(makePage));
  }

  async #sendSuspend(makePage: (kUrl: string) => Page | Promise<Page>): Promise<Request> {
    const e = await this.#input(false) ?? await this.#suspend(makePage, false, () => 0);
    return this.request = requestOf(e, this.#origin, this.#base);
  }

  sendSuspendDispatch<T>(
    makePage: (embedUrl: (handler: EmbeddedHandler<T>) => string) => Page | Promise<Page>,
  ): Promise<T> {
    return this.#guarded("sendSuspendDispatch", () => this.#sendSuspendDispatch(makePage));
  }

  async #sendSuspendDispatch<T>(
    makePage: (embedUrl: (handler: EmbeddedHandler<T>) => string) => Page | Promise<Page>,
  ): Promise<T> {
    const handlers: EmbeddedHandler<T>[] = [];
    let e = await this.#input(true);
    if (e) {
      await makePage((h) => (handlers.push(h), "")); // re-registers the page's handlers
    } else {
      e = await this.#suspend(
        (url) => makePage((h) => url + "/" + (handlers.push(h) - 1)),
        true,
        () => handlers.length,
      );
    }
    const handler = handlers[e.n!];
    if (!handler) throw new HttpError("BAD_REQUEST", "no such link on that page");
    this.request = requestOf(e, this.#origin, this.#base);
    return await handler(this.request);
  }

  sendForward(makePage: (kUrl: string) => Page | Promise<Page>): Promise<Request> {
    return this.#guarded("sendForward", () => this.#sendForward(makePage));
  }

  async #sendForward(makePage: (kUrl: string) => Page | Promise<Page>): Promise<Request> {
    if (this.#cursor >= this.#replay.length && this.#pending === null) {
      const dropped = this.#state.manager.dropInstance(this.#instance);
      if (dropped) {
        try {
          await dropped;
        } catch (e) {
          if (!(e instanceof ContinuationStoreError)) throw e;
          this.#respond(unavailable(e));
          throw ABANDON;
        }
      }
    }
    return await this.#sendSuspend(makePage);
  }

  // Throws synchronously rather than returning a rejected promise: a
  // caller that does not await (as Racket code calls send/back) still stops
  // here, and no rejected promise is left unhandled.
  sendBack(page: Page): never {
    this.#respond(toResponse(page));
    throw ABANDON;
  }

  sendFinish(page: Page): never {
    const response = toResponse(page);
    const dropped = this.#state.manager.dropInstance(this.#instance);
    if (!dropped) return this.sendBack(response);
    // A shared store: answer once the drop is done (or 503 if it failed),
    // so that no other process resumes this session after the answer.
    const r = this.#responder;
    this.#responder = null;
    dropped.then(
      () => r?.resolve(response),
      (e) => e instanceof ContinuationStoreError ? r?.resolve(unavailable(e)) : r?.reject(e),
    );
    throw ABANDON;
  }

  redirectGet(): Promise<Request> {
    return this.sendSuspend((url) => new Response(null, { status: 303, headers: { location: url } }));
  }

  async record<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#cursor < this.#replay.length) {
      const e = this.#replay[this.#cursor++];
      if (e.t !== "rec") this.#nondeterministic("a recorded value");
      this.#log.push(e);
      return e.v as T;
    }
    const v = await fn();
    this.#log.push({ t: "rec", v });
    return v;
  }
}

function expiredPage(base: string): Response {
  return htmlResponse(
    new Html(
      `<!doctype html><title>Page expired</title><h1>This page has expired</h1>` +
        `<p>The link you followed belonged to a session that has ended or timed out.</p>` +
        `<p><a href="${escapeHtml(base || "/")}">Start again</a></p>`,
    ),
    { status: 404 },
  );
}

/**
 * Makes a fetch handler from a servlet function. Mount it under a prefix;
 * its k-URLs live under that prefix.
 *
 * @example
 * ```ts
 * import { html, Router, serve, servlet, type Web } from "portico";
 *
 * async function getNumber(web: Web, label: string): Promise<number> {
 *   const req = await web.sendSuspend((kUrl) => html`
 *     <form action="${kUrl}" method="get">${label}
 *       <input type="text" name="number"><input type="submit"></form>`);
 *   return Number(new URL(req.url).searchParams.get("number"));
 * }
 *
 * const router = new Router();
 * router.mount("/sum", servlet(async (web) => {
 *   const a = await getNumber(web, "First number:");
 *   const b = await getNumber(web, "Second number:");
 *   return html`<p>The sum is ${a + b}</p>`;
 * }));
 * serve({ fetch: router.fetch });
 * ```
 */
export function servlet(fn: (web: Web) => Page | Promise<Page>, options: ServletOptions = {}): Servlet {
  const group = options.group ?? new ResourceGroup({ name: "servlet" });
  const manager = options.manager ?? lruManager();
  group.defer(() => manager.close());
  const codec = options.stateless ? new StatelessCodec(options.stateless) : null;
  const state: ServletState = {
    fn,
    manager,
    codec,
    headers: codec ? "minimal" : "all",
    maxInputBytes: options.maxInputBytes ?? 64 * 1024,
  };
  // The servers (root groups) whose shutdown ends this servlet's sessions.
  const servers = options.group ? null : new WeakSet<ResourceGroup>();

  const instanceOf = (id: string) => new Instance(id, group);
  const expired = (request: Request, base: string) =>
    options.onExpired ? options.onExpired(request) : expiredPage(base);

  const start = (run: Run, first: { request: Request; path: string } | null, responder: Responder) => {
    // run() catches everything; this guards against a bug in it leaving a
    // rejection unhandled, which would end the process.
    run.run(first).catch((e) => responder.reject(e));
  };

  const handler = async (request: Request, info?: ServeHandlerInfo): Promise<Response> => {
    if (servers && info) belongToServer(info, servers, group);
    const mountPath = (info as { mountPath?: string } | undefined)?.mountPath;
    const base = options.base ?? mountPath ?? "";
    const split = splitUrl(request.url);
    const origin = split.origin;
    // Mounted through a Router the prefix is already gone (taking it off
    // again broke a mount at "/k" or "/s", the servlet's own namespaces);
    // with an explicit base and no Router it is still there.
    const path = !mountPath && base && split.path.startsWith(base + "/") ? split.path.slice(base.length) : split.path;

    if (K_SPACE.test(path)) {
      const k = K_PATH.exec(path);
      let cont: Continuation | undefined;
      if (k) {
        const found = manager.get(k[1], instanceOf);
        try {
          cont = found instanceof Promise ? await found : found;
        } catch (e) {
          if (!(e instanceof ContinuationStoreError)) throw e;
          return unavailable(e);
        }
      }
      const n = k?.[2] === undefined ? undefined : Number(k[2]);
      if (!cont || (n !== undefined) !== cont.dispatch || (n !== undefined && n >= cont.embeds)) {
        return expired(request, base);
      }
      const responder = deferred();
      if (cont.park) {
        const park = cont.park;
        cont.park = null; // one shot: later visits replay
        park.resume(request, responder, n);
      } else {
        start(
          new Run(state, cont.instance, cont.log, { request, dispatch: n }, responder, origin, base),
          null,
          responder,
        );
      }
      return responder.promise;
    }

    if (codec && S_SPACE.test(path)) {
      const s = S_PATH.exec(path);
      if (!s) return expired(request, base);
      const decoded = await codec.decode(s[1], base);
      if (decoded === "expired") return expired(request, base);
      const n = s[2] === undefined ? undefined : Number(s[2]);
      if (decoded === "invalid") throw new HttpError("BAD_REQUEST", "invalid or tampered continuation URL");
      if ((n !== undefined) !== decoded.dispatch) {
        throw new HttpError("BAD_REQUEST", "that continuation URL is not a link of its page");
      }
      const responder = deferred();
      const instance = new Instance(decoded.instance, group);
      start(new Run(state, instance, decoded.log, { request, dispatch: n }, responder, origin, base), null, responder);
      return responder.promise;
    }

    const responder = deferred();
    const instance = new Instance(randomId(), group);
    start(new Run(state, instance, [], null, responder, origin, base), { request, path }, responder);
    return responder.promise;
  };
  return Object.assign(handler, { manager, group });
}

// Ties the servlet's group to the server serving this request: its root
// group (the top of the request's group tree) shuts the servlet's down.
// Reading `info.group` builds the request's group if nothing did yet; that
// is a small cost beside a servlet step (which builds an instance group).
function belongToServer(info: ServeHandlerInfo, servers: WeakSet<ResourceGroup>, group: ResourceGroup): void {
  let root: ResourceGroup | undefined = info.group;
  if (!root) return; // served by something other than portico's serve()
  while (root.parent) root = root.parent;
  if (servers.has(root)) return;
  servers.add(root);
  root.defer(() => group.shutdown());
}
