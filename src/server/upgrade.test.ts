import { describe, expect, it } from "vitest";
import { memoryAdapter } from "../../adapters/memory.ts";
import { serve } from "../serve.ts";
import { upgradeOf, upgradeResponse } from "./upgrade.ts";

describe("upgradeResponse", () => {
  it("is a Response with status 101, its fields, and the upgrade handler", () => {
    const onUpgrade = () => ({ onData() {}, onDrain() {}, onEnd() {}, onClose() {}, closeGracefully() {} });
    const r = upgradeResponse([["upgrade", "echo"], ["connection", "Upgrade"]], onUpgrade);
    expect(r).toBeInstanceOf(Response);
    expect(r.status).toBe(101);
    expect(r.statusText).toBe("Switching Protocols");
    expect(r.headers.get("upgrade")).toBe("echo");
    expect(upgradeOf(r)?.onUpgrade).toBe(onUpgrade);
    expect(upgradeOf(new Response("x"))).toBeUndefined();
  });

  it("refuses field names and values that would break the head", () => {
    const h = () => ({ onData() {}, onDrain() {}, onEnd() {}, onClose() {}, closeGracefully() {} });
    expect(() => upgradeResponse([["bad name", "x"]], h)).toThrow(TypeError);
    expect(() => upgradeResponse([["x", "a\r\nb: c"]], h)).toThrow(TypeError);
  });

  it("hands the socket over with the bytes that followed the request head (memory adapter)", async () => {
    const adapter = memoryAdapter();
    let rest = "";
    const server = serve({
      adapter,
      port: 0,
      onListen() {},
      fetch: () =>
        upgradeResponse([["upgrade", "echo"]], (conn, early) => {
          rest = new TextDecoder().decode(early);
          return {
            onData: (chunk) => void conn.write(chunk.slice()),
            onDrain() {},
            onEnd: () => conn.end(),
            onClose() {},
            closeGracefully: () => conn.end(),
          };
        }),
    });
    await server.ready();
    const client = adapter.connect();
    client.write("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly");
    await client.until((t) => t.includes("\r\n\r\n"));
    client.write("GET / HTTP/1.1\r\n\r\n");
    const text = await client.until((t) => t.endsWith("GET / HTTP/1.1\r\n\r\n"));
    expect(text).toBe("HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    expect(rest).toBe("early");
    client.end(); // the echo protocol ends too
    await client.closed;
    await server.shutdown();
  });
});
