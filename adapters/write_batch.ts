/**
 * Writes held to the end of the event loop's turn, for every connection of
 * the process: what the handlers of one batch of socket events write goes
 * out together once the batch has been handled, rather than one response
 * at a time between them.
 *
 * Why: on a loaded server, each send that finds the client asleep must wake
 * it, and on a virtual machine a wake-up is an interrupt to another CPU,
 * which costs the sender several microseconds in the kernel. Sent one by
 * one between handlers, most responses pay it; sent back to back, only the
 * first of a batch does. Measured on this project's 2-core VM
 * (`node bench/ab.mjs --runtime <r>`, 64 connections, hello): server CPU
 * per request 0.87–0.89× on node, 0.91–0.97× on deno and 0.89–0.95× on bun
 * of what it was with each write sent at once, and 0–14% more requests per
 * second; 0.81–0.85× with 16-deep pipelining.
 * `perf` showed where it went: the kernel's `sock_def_readable` (waking
 * the reader) took 12% of portico's CPU on node against 5% for a raw
 * `node:net` loop.
 *
 * What it costs: a response waits for the other handlers of its batch (a
 * few microseconds each) and one `setImmediate` hop. Bytes are never held
 * past the turn: `setImmediate` runs once the event loop has handled the
 * I/O events it was given. `end()` and `destroy()` send what is held first,
 * so nothing written before them is lost or reordered.
 *
 * When there is nothing to batch, the hop is pure cost: with one client
 * sending one request at a time it took 2–5% more CPU per request (the
 * event loop polls once more per turn). So holding stops after
 * {@link QUIET_TURNS} turns in a row in which only one connection wrote;
 * the next {@link DIRECT_WRITES} writes go out at once, as they did before
 * the hold, and then holding is tried again.
 *
 * Used by all three adapters; runtime-free (`node:timers` is on all three).
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** A connection whose writes can be held until the end of the turn. */
export interface HeldWrites {
  /** The turn is over: send what was held. Must not throw. */
  releaseWrites(): void;
}

/** Turns in a row with a single connection's writes after which holding stops for a while. */
export const QUIET_TURNS = 16;
/** Writes sent at once, without holding, before holding is tried again. */
export const DIRECT_WRITES = 64;

let held: HeldWrites[] = [];
let scheduled = false;
let quietTurns = 0;
let directLeft = 0;

/**
 * Holds `conn`'s writes until the event loop has handled the current batch
 * of events, and returns true; then `conn.releaseWrites()` is called, once.
 * Returns false, holding nothing, while the server is quiet (see the module
 * docs): the adapter then writes at once. The adapter asks on each write
 * while it holds nothing, holds (Deno and Bun: by corking their send queue; Node:
 * by keeping the chunks, see adapters/node.ts) and sends what it held when released.
 *
 * @example
 * ```ts
 * import { holdWrites } from "./write_batch.ts";
 * const conn = { releaseWrites: () => console.log("sent") };
 * if (holdWrites(conn)) console.log("held"); // prints "held", then "sent"
 * ```
 */
export function holdWrites(conn: HeldWrites): boolean {
  if (directLeft > 0) {
    directLeft--;
    return false;
  }
  held.push(conn);
  if (!scheduled) {
    scheduled = true;
    setImmediate(releaseAll);
  }
  return true;
}

function releaseAll(): void {
  scheduled = false;
  // Connections held while these are released (a drain that writes again)
  // wait for the next turn, in a list of their own.
  const list = held;
  held = [];
  if (list.length > 1) quietTurns = 0;
  else if (++quietTurns >= QUIET_TURNS) {
    quietTurns = 0;
    directLeft = DIRECT_WRITES;
  }
  for (let i = 0; i < list.length; i++) {
    try {
      list[i].releaseWrites();
    } catch (e) {
      // One connection's failure must not strand the others' bytes.
      console.error("portico: sending held writes failed:", e);
    }
  }
}
