import { describe, expect, it } from "vitest";
import { ResourceGroup } from "../groups/group.ts";
import type { RequestHead } from "../http/parser.ts";
import { BodyStream } from "./body.ts";
import { clientGone, Exchange } from "./exchange.ts";

const addr = { transport: "tcp" as const, hostname: "127.0.0.1", port: 1234 };

function head(method = "GET"): RequestHead {
  return {
    method,
    target: "/x",
    versionMinor: 1,
    headers: ["host", "a", "x-y", "z"],
    host: "a",
    form: "origin",
    framing: "none",
    contentLength: 0,
    keepAlive: true,
    expectContinue: false,
  } as unknown as RequestHead;
}

describe("Exchange", () => {
  it("is the handler's info and the request bridge's source", async () => {
    const parent = new ResourceGroup({ name: "conn" });
    const ex = new Exchange(head(), "http://a/x", { remoteAddr: addr }, parent);
    expect(ex.remoteAddr).toBe(addr);
    expect(ex.request.url).toBe("http://a/x");
    expect(ex.request.headers.get("x-y")).toBe("z");
    expect(await ex.request.text()).toBe(""); // no body
    expect(ex.group.parent).toBe(parent); // built on first use, under the connection's
    expect(ex.group.name).toBe("request GET /x");
  });

  it("finish(): completed settles and the request group shuts down", async () => {
    const ex = new Exchange(head(), "http://a/x", { remoteAddr: addr }, new ResourceGroup());
    const group = ex.group;
    let done = false;
    void ex.completed.then(() => (done = true));
    ex.finish();
    await group.shutdown();
    expect(done).toBe(true);
    expect(ex.request.signal.aborted).toBe(false);
  });

  it("abort(): the signal aborts with the reason, an unfinished body errors with it, the group shuts down", async () => {
    const ex = new Exchange(head("POST"), "http://a/x", { remoteAddr: addr }, new ResourceGroup());
    ex.body = new BodyStream({ onPull() {}, onCancel() {}, account() {} });
    const reading = ex.request.arrayBuffer();
    const reason = clientGone(new Error("ECONNRESET"));
    ex.abort(reason);
    expect(reason.name).toBe("AbortError");
    expect((reason as { cause?: Error }).cause?.message).toBe("ECONNRESET");
    expect(ex.request.signal.reason).toBe(reason);
    expect(ex.abortReason).toBe(reason);
    await expect(reading).rejects.toBe(reason);
    expect(ex.group.closed).toBe(true);
  });

  it("upgraded(): completed settles but the group stays open", async () => {
    const ex = new Exchange(head(), "http://a/x", { remoteAddr: addr }, new ResourceGroup());
    const group = ex.group;
    ex.upgraded();
    await ex.completed;
    expect(group.closed).toBe(false);
    expect(ex.request.signal.aborted).toBe(false);
  });
});
