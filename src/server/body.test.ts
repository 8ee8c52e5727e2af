import { describe, expect, it } from "vitest";
import { BodyStream } from "./body.ts";

function feed() {
  const log = { pulls: 0, cancels: 0, charged: 0 };
  return {
    log,
    feed: {
      onPull: () => void log.pulls++,
      onCancel: () => void log.cancels++,
      account: (n: number) => void (log.charged += n),
    },
  };
}

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe("BodyStream", () => {
  it("is read whole once: a second collect() is refused, even while the first waits", async () => {
    const { feed: f } = feed();
    const body = new BodyStream(f);
    body.push(bytes(2));
    const first = body.collect();
    expect(body.disturbed).toBe(true);
    await expect(body.collect()).rejects.toThrow(TypeError);
    body.close();
    expect([...(await first)]).toEqual([1, 1]);
  });

  it("is disturbed by a read or a cancel, not by building the stream or locking it", async () => {
    const { feed: f } = feed();
    const read = new BodyStream(f);
    read.push(bytes(3));
    const reader = read.stream.getReader();
    expect([read.locked, read.disturbed]).toEqual([true, false]);
    await reader.read();
    reader.releaseLock();
    expect([read.locked, read.disturbed]).toEqual([false, true]);
    const cancelled = new BodyStream(f);
    await cancelled.stream.cancel();
    expect(cancelled.disturbed).toBe(true);
  });

  it("asks for a pause once the unread bytes reach its high-water mark, and charges them", () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f, 100);
    expect(body.push(bytes(60))).toBe(true);
    expect(log.charged).toBe(60);
    expect(body.push(bytes(40))).toBe(false);
    expect(log.charged).toBe(100);
  });

  it("a body that breaks after queued bytes: a stream reader gets them first, then the error", async () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f);
    body.push(bytes(3, 1));
    body.push(bytes(2, 2));
    const tooLarge = new Error("body larger than the limit");
    body.fail(tooLarge);
    const reader = body.stream.getReader();
    expect([...(await reader.read()).value!]).toEqual([1, 1, 1]);
    expect([...(await reader.read()).value!]).toEqual([2, 2]);
    await expect(reader.read()).rejects.toBe(tooLarge);
    expect(body.done).toBe(true);
    expect(log.charged).toBe(0); // what the reader took left the budget
  });

  it("a BYOB reader smaller than the last queued chunk still gets all of it before the error", async () => {
    const { feed: f } = feed();
    const body = new BodyStream(f);
    body.push(bytes(6, 5));
    const failure = new Error("bad chunk framing");
    body.fail(failure);
    const reader = body.stream.getReader({ mode: "byob" });
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push(...(await reader.read(new Uint8Array(2))).value!);
    expect(got).toEqual([5, 5, 5, 5, 5, 5]);
    await expect(reader.read(new Uint8Array(2))).rejects.toBe(failure);
  });

  it("a body that broke keeps its error when the client then goes away or times out", async () => {
    const body = new BodyStream(feed().feed);
    body.push(bytes(4, 3));
    const tooLarge = new Error("body larger than the limit");
    body.fail(tooLarge);
    body.error(new Error("client closed the connection before the body was complete"));
    const reader = body.stream.getReader();
    expect([...(await reader.read()).value!]).toEqual([3, 3, 3, 3]);
    await expect(reader.read()).rejects.toBe(tooLarge);
  });

  it("cancel() after the response, while someone holds a reader: the reader gets an AbortError, the rest is discarded", async () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f);
    body.push(bytes(5));
    const reader = body.stream.getReader();
    expect((await reader.read()).value!.byteLength).toBe(5);
    const next = reader.read(); // waits for more
    body.cancel();
    await expect(next).rejects.toMatchObject({ name: "AbortError" });
    expect(log.cancels).toBe(1); // the connection discards what comes
    expect(body.done).toBe(true);
  });

  it("a body that breaks: a whole-body reader, or a stream with nothing queued, gets the error at once", async () => {
    const whole = new BodyStream(feed().feed);
    whole.push(bytes(3));
    const e1 = new Error("one");
    whole.fail(e1);
    await expect(whole.collect()).rejects.toBe(e1);

    const empty = new BodyStream(feed().feed);
    const reader = empty.stream.getReader();
    const pending = reader.read();
    const e2 = new Error("two");
    empty.fail(e2);
    await expect(pending).rejects.toBe(e2);
  });

  it("copies what it queues: the adapter may reuse the chunk's memory", async () => {
    const { feed: f } = feed();
    const body = new BodyStream(f);
    const chunk = bytes(3, 7);
    body.push(chunk);
    chunk.fill(0);
    body.close();
    expect([...await body.collect()]).toEqual([7, 7, 7]);
  });

  it("a complete body read whole: all of it at once, and the budget released", async () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f);
    body.push(bytes(10, 1));
    body.push(bytes(5, 2));
    body.close();
    const all = await body.collect();
    expect(all.byteLength).toBe(15);
    expect(log.charged).toBe(0);
    expect(body.done).toBe(true);
  });

  it("a whole-body reader takes everything, uncharged, without asking for a pause (issue 12.1)", async () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f, 100);
    body.push(bytes(80));
    const whole = body.collect();
    expect(log.pulls).toBe(1); // 100 Continue is owed, the socket resumes
    expect(log.charged).toBe(0); // the queued bytes left the budget
    for (let i = 0; i < 50; i++) expect(body.push(bytes(100))).toBe(true);
    expect(log.charged).toBe(0);
    body.close();
    expect((await whole).byteLength).toBe(80 + 50 * 100);
  });

  it("an error rejects a whole-body reader and errors the stream", async () => {
    const { feed: f } = feed();
    const a = new BodyStream(f);
    const reading = a.collect();
    const reason = new Error("client gone");
    a.error(reason);
    await expect(reading).rejects.toBe(reason);
    const b = new BodyStream(f);
    const reader = b.stream.getReader();
    b.error(reason);
    await expect(reader.read()).rejects.toBe(reason);
  });

  it("a stream reader releases what it takes and pulls for more", async () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f, 100);
    body.push(bytes(60));
    body.push(bytes(60));
    expect(log.charged).toBe(120);
    const reader = body.stream.getReader();
    const first = await reader.read();
    expect(first.value?.byteLength).toBe(60);
    expect(log.charged).toBe(60);
    expect(log.pulls).toBeGreaterThanOrEqual(1);
    body.close();
    expect((await reader.read()).value?.byteLength).toBe(60);
    expect((await reader.read()).done).toBe(true);
    expect(log.charged).toBe(0);
  });

  it("cancel drops the queue, releases its bytes and tells the connection to discard the rest", () => {
    const { log, feed: f } = feed();
    const body = new BodyStream(f);
    body.push(bytes(30));
    body.cancel();
    expect(log.cancels).toBe(1);
    expect(log.charged).toBe(0);
    expect(body.done).toBe(true);
    expect(body.push(bytes(10))).toBe(true); // ignored
    expect(log.charged).toBe(0);
  });
});
