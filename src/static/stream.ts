/**
 * A byte range of an open file as a ReadableStream, read one chunk at a
 * time as the consumer pulls, so a file of any size costs a chunk or two of
 * memory.
 *
 * The file handle is closed exactly once, by whichever comes first: the
 * last byte was read, a read failed, the consumer cancelled, or the owning
 * resource group shut down (the client went away, the server stopped). A
 * close waits for a read in flight, so the descriptor is never released
 * under a pending read that could then hit a reused descriptor number.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";
import { type Closeable, ResourceGroup } from "../groups/group.ts";

/**
 * Bytes read per pull. Each read is a round trip to a worker thread (in
 * Node most of all: 64 KiB chunks ran at half the speed of 128 KiB), while
 * a connection holds about two chunks; 128 KiB balances the two.
 */
const CHUNK = 128 * 1024;

/** Something that can take ownership of a closeable resource, as a {@link ResourceGroup} can. */
export interface Owner {
  /** Takes ownership: `resource` is closed when the owner shuts down. */
  adopt<T extends Closeable>(resource: T): T;
}

/**
 * The owner of resources for the request being handled: the `group` of a
 * handler's second argument when it has one (portico's `ServeHandlerInfo`,
 * a Router context), else the group of the running request, else none
 * (another server's handler info, or no request at all).
 *
 * @example
 * ```ts
 * import { requestOwner } from "./stream.ts";
 * const handler = (req: Request, info?: object) => {
 *   const owner = requestOwner(info); // info.group under portico
 *   return new Response(owner ? "owned" : "unowned");
 * };
 * ```
 */
export function requestOwner(info: object | undefined): Owner | null {
  const group = (info as { group?: unknown } | undefined)?.group;
  if (typeof group === "object" && group !== null && typeof (group as Owner).adopt === "function") {
    return group as Owner;
  }
  return ResourceGroup.current() ?? null;
}

/**
 * Streams bytes `start` to `end` (inclusive) of `handle`, which the stream
 * then owns; `owner`, when given, adopts it too. `end < start` gives an
 * empty stream.
 *
 * @example
 * ```ts
 * import { open } from "node:fs/promises";
 * import { fileStream } from "./stream.ts";
 * const handle = await open("big.iso");
 * const { size } = await handle.stat();
 * const response = new Response(fileStream(handle, 0, size - 1, null), {
 *   headers: { "content-length": String(size) },
 * });
 * ```
 */
export function fileStream(
  handle: FileHandle,
  start: number,
  end: number,
  owner: Owner | null,
): ReadableStream<Uint8Array> {
  let position = start;
  let reading: Promise<unknown> | null = null;
  let closing: Promise<void> | null = null;
  let cancelled = false;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await reading?.catch(() => {});
      await handle.close();
    })().catch(() => {});
    return closing;
  };
  owner?.adopt({ close });

  // A byte stream: a consumer with a BYOB reader has the file read straight
  // into its own buffer (and can recycle it); a default reader gets a fresh
  // chunk per pull.
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      if (closing !== null) {
        // The owner shut down (the client is gone): nothing will read this.
        // Its reason is the cause, so the server can tell this failure from
        // the response's own.
        const reason = (owner as { signal?: AbortSignal } | null)?.signal?.reason;
        controller.error(new Error("file closed", { cause: reason }));
        return;
      }
      const request = controller.byobRequest;
      const left = end + 1 - position;
      if (left <= 0) {
        controller.close();
        request?.respond(0);
        await close();
        return;
      }
      const view = request?.view;
      const target = view
        ? new Uint8Array(view.buffer, view.byteOffset, Math.min(view.byteLength, left))
        : new Uint8Array(Math.min(CHUNK, left));
      let bytesRead: number;
      try {
        const read = handle.read(target, 0, target.byteLength, position);
        reading = read;
        bytesRead = (await read).bytesRead;
      } catch (error) {
        reading = null;
        await close();
        controller.error(error);
        return;
      }
      reading = null;
      // Cancelled while reading: the stream is closed and takes nothing more.
      if (cancelled) return;
      if (bytesRead === 0) {
        // Truncated since it was opened: better a cut connection than a
        // body shorter than the Content-Length already sent.
        await close();
        controller.error(new Error("file is shorter than when it was opened"));
        return;
      }
      position += bytesRead;
      if (request) request.respond(bytesRead);
      else controller.enqueue(bytesRead === target.byteLength ? target : target.subarray(0, bytesRead));
      if (position > end) {
        controller.close();
        await close();
      }
    },
    cancel() {
      cancelled = true;
      return close();
    },
  }, { highWaterMark: CHUNK });
}
