/**
 * The socket adapters' promises to the core (src/adapter.ts), checked on the
 * real adapter of each runtime over a real socket (test/fixtures/adapter_contract.mjs).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandFor, projectRoot, RUNTIMES } from "../helpers/runtime.ts";

describe.each(RUNTIMES)("the %s adapter", (runtime) => {
  it("reports the peer's FIN once, then the close once, while a large write is in flight and end() answers the FIN", () => {
    const [cmd, args] = commandFor(runtime, path.join("test", "fixtures", "adapter_contract.mjs"));
    const out = execFileSync(cmd, args, { cwd: projectRoot, encoding: "utf8", timeout: 30_000 });
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    expect(line, out).toBeDefined();
    expect(JSON.parse(line!.slice(7))).toEqual({ ends: 1, closes: 1, endBeforeClose: true, received: 8 * 1024 * 1024 });
  });

  it("sends writes held to the end of the turn: before destroy() and end(), in order, to each of 50 connections, from a timer, and at once when quiet", () => {
    const [cmd, args] = commandFor(runtime, path.join("test", "fixtures", "adapter_held_writes.mjs"));
    const out = execFileSync(cmd, args, { cwd: projectRoot, encoding: "utf8", timeout: 30_000 });
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    expect(line, out).toBeDefined();
    expect(JSON.parse(line!.slice(7))).toEqual({
      destroyed: "one two|FIN",
      ended: "three four|FIN",
      many: 50,
      timer: "late",
      sequential: 100,
      big: ["destroyed"],
      mixed: "in order, drained",
    });
  });
});
