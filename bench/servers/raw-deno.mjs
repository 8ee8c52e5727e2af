// Ceiling: Deno.listen answering every request head ("\r\n\r\n") with a
// fixed response, no HTTP parsing. BENCH_RAW_BODY picks the response.
import { headCounter, listening, rawResponse } from "./common.mjs";

const response = rawResponse();
const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
listening(listener.addr.port);

async function handle(conn) {
  try {
    conn.setNoDelay(true);
  } catch { /* older Deno */ }
  const count = headCounter();
  // BENCH_RAW_READ_BUFFER: the read buffer's size (default 4 KiB), to find
  // the runtime's own memory floor per connection with a tiny one.
  const buf = new Uint8Array(Number(Deno.env.get("BENCH_RAW_READ_BUFFER") ?? 4096));
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      const k = count(buf.subarray(0, n));
      if (k > 0) {
        let out = response(k);
        while (out.length > 0) out = out.subarray(await conn.write(out));
      }
    }
  } catch {
    // reset by peer and the like
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

for await (const conn of listener) handle(conn);
