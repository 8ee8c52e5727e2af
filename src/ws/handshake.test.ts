import { describe, expect, it } from "vitest";
import { acceptKey, handshake } from "./handshake.ts";
import { deflateResponseHeader, negotiateDeflate } from "./deflate.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const req = (headers: Record<string, string>, method = "GET") =>
  new Request("http://x/ws", {
    method,
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": KEY,
      "sec-websocket-version": "13",
      ...headers,
    },
  });

describe("handshake", () => {
  it("computes the RFC 6455 example accept key", () => {
    expect(acceptKey(KEY)).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("accepts a valid request, with tokens in any case and lists", () => {
    const r = handshake(req({ upgrade: "WebSocket", connection: "keep-alive, Upgrade" }), [], true);
    expect("protocol" in r).toBe(true);
    if (!("protocol" in r)) return;
    expect(r.headers).toContainEqual(["sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]);
    expect(r.protocol).toBe("");
    expect(r.extensions).toBe("");
  });

  it("refuses bad keys with 400 and other versions with 426", () => {
    const status = (h: Record<string, string>, method = "GET") => {
      const r = handshake(req(h, method), [], true);
      return "status" in r ? [r.status, r.headers] : [101];
    };
    expect(status({ "sec-websocket-key": "" })).toEqual([400, []]);
    expect(status({ "sec-websocket-key": "c2hvcnQ=" })).toEqual([400, []]); // 5 bytes
    expect(status({ "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ" })).toEqual([400, []]); // no padding
    expect(status({ "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZR==" })).toEqual([400, []]); // stray bits
    expect(status({ "sec-websocket-key": "dGhlIHNhbXBsZSBub25j!Q==" })).toEqual([400, []]);
    expect(status({ upgrade: "h2c" })).toEqual([400, []]);
    expect(status({ connection: "keep-alive" })).toEqual([400, []]);
    expect(status({ "sec-websocket-version": "12" })).toEqual([426, [["sec-websocket-version", "13"]]]);
    expect(status({ "sec-websocket-version": "13, 8" })).toEqual([426, [["sec-websocket-version", "13"]]]);
    expect(status({}, "POST")).toEqual([405, [["allow", "GET"]]]);
    const noKey = new Request("http://x/", {
      headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-version": "13" },
    });
    expect((handshake(noKey, [], true) as { status: number }).status).toBe(400);
  });

  it("selects the first server protocol the client offered", () => {
    const r = handshake(req({ "sec-websocket-protocol": "chat, superchat" }), ["superchat", "chat"], true);
    expect("protocol" in r && r.protocol).toBe("superchat");
    const none = handshake(req({ "sec-websocket-protocol": "chat" }), ["mqtt"], true);
    expect("protocol" in none && none.protocol).toBe("");
    expect("headers" in none && none.headers.some(([n]) => n === "sec-websocket-protocol")).toBe(false);
  });
});

describe("permessage-deflate negotiation", () => {
  const n = (h: string) => {
    const p = negotiateDeflate(h);
    return p && deflateResponseHeader(p);
  };
  it("accepts the parameters of RFC 7692 and echoes what binds the server", () => {
    expect(n("permessage-deflate")).toBe("permessage-deflate");
    expect(n("permessage-deflate; client_max_window_bits")).toBe("permessage-deflate; client_max_window_bits=15");
    expect(n("permessage-deflate; server_no_context_takeover; client_no_context_takeover")).toBe(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    expect(n('permessage-deflate; server_max_window_bits="10"; client_max_window_bits=9')).toBe(
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    );
  });
  it("declines offers it cannot honour and takes the next one", () => {
    expect(n("permessage-deflate; server_max_window_bits")).toBeUndefined();
    expect(n("permessage-deflate; server_max_window_bits=16")).toBeUndefined();
    expect(n("permessage-deflate; server_max_window_bits=8")).toBeUndefined();
    expect(n("permessage-deflate; client_no_context_takeover; client_no_context_takeover")).toBeUndefined();
    expect(n("permessage-deflate; unknown=1")).toBeUndefined();
    expect(n("permessage-deflate; server_no_context_takeover=1")).toBeUndefined();
    expect(n("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, permessage-deflate")).toBe(
      "permessage-deflate",
    );
    expect(negotiateDeflate(null)).toBeUndefined();
  });
  it("is not offered when compress is false", () => {
    const r = handshake(req({ "sec-websocket-extensions": "permessage-deflate" }), [], false);
    expect("extensions" in r && r.extensions).toBe("");
  });
});
