// Ceiling: Bun.listen answering every request head ("\r\n\r\n") with a fixed
// response, no HTTP parsing. BENCH_RAW_BODY picks the response. Bun's write
// returns how much the kernel took; the rest waits for drain.
import { headCounter, listening, rawResponse } from "./common.mjs";

const response = rawResponse();

function flush(s) {
  const st = s.data;
  while (st.queue.length > 0) {
    const chunk = st.queue[0];
    const n = s.write(chunk);
    if (n < 0) return;
    if (n < chunk.length) {
      st.queue[0] = chunk.subarray(n);
      return;
    }
    st.queue.shift();
  }
}

const listener = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(s) {
      s.data = { count: headCounter(), queue: [] };
    },
    data(s, chunk) {
      const n = s.data.count(chunk);
      if (n === 0) return;
      const out = response(n);
      if (s.data.queue.length > 0) {
        s.data.queue.push(out);
        return;
      }
      const w = s.write(out);
      if (w >= 0 && w < out.length) s.data.queue.push(out.subarray(w));
    },
    drain(s) {
      flush(s);
    },
    error() {},
    close() {},
  },
});
listening(listener.port);
