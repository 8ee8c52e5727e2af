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
  const buf = new Uint8Array(4 * 1024); // as small as portico's Deno adapter starts with
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
