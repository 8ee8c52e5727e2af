// A socket adapter without sockets, for measuring portico's own code
// (bench/core.mjs, bench/ws-core.mjs): one connection that takes every write
// at once and calls `onWrite` for it.
//
//   const fake = fakeAdapter(() => writes++);
//   const server = serve({ adapter: fake.adapter, port: 1, onListen() {}, fetch });
//   const handler = await fake.connect();   // the core's ConnHandler
//   handler.onData(bytes);

const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

// On Bun, buffers as Bun's adapter has them (src/http/bytes.ts).
if (typeof globalThis.Bun !== "undefined") (await import("../../src/http/bytes.ts")).preferOwnBuffers();

export function fakeAdapter(onWrite) {
  let accept = null;
  const conn = {
    remoteAddr: addr,
    localAddr: addr,
    write() {
      onWrite();
      return true;
    },
    end() {},
    destroy() {},
    pause() {},
    resume() {},
    ref() {},
    unref() {},
  };
  return {
    adapter: {
      name: "fake",
      listen(_options, onConnection) {
        accept = onConnection;
        return Promise.resolve({ addr, close: () => Promise.resolve(), ref() {}, unref() {} });
      },
    },
    /** The connection, once the server listens: resolves with its handler. */
    async connect() {
      while (accept === null) await new Promise((r) => setTimeout(r, 1));
      return accept(conn);
    },
  };
}
