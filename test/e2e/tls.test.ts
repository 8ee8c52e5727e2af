/**
 * HTTPS through the same core: `serve({ tls: { cert, key } })` on each
 * runtime's adapter, with a self-signed certificate made by openssl here.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portico-tls-"));
const cert = path.join(dir, "cert.pem");
const key = path.join(dir, "key.pem");

beforeAll(() => {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function request(port: number, body: string, agent: https.Agent) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, method: "POST", path: "/secure?x=1", ca: fs.readFileSync(cert), agent },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe.each(RUNTIMES)("TLS on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "tls.mjs", { env: { TLS_CERT: cert, TLS_KEY: key } });
  });
  afterAll(() => server?.stop());

  it("answers HTTPS requests verified against the test's certificate, on a kept-alive connection", async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    agent.on("free", (s) => sockets.add(s));
    try {
      for (const body of ["one", "two"]) {
        const res = await request(server.port, body, agent);
        expect(res.status).toBe(200);
        expect(res.text).toBe(`${runtime} over TLS: POST https://127.0.0.1:${server.port}/secure?x=1 ${body}`);
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it("survives a client that fails the handshake", async () => {
    await expect(
      new Promise((resolve, reject) => {
        const req = https.request({ host: "127.0.0.1", port: server.port, path: "/", rejectUnauthorized: true }, resolve);
        req.on("error", reject);
        req.end();
      }),
    ).rejects.toThrow();
    const res = await request(server.port, "after", new https.Agent());
    expect(res.status).toBe(200);
  });
});

// serve({ tls: { cert: "cert.pem", key: "key.pem" } }): a value without
// "-----BEGIN" is read as a file (README, TLS); and the files' bytes, as
// `readFileSync("cert.pem")` gives them, are PEM too.
describe.each(RUNTIMES.flatMap((r) => [[r, "paths"], [r, "bytes"]] as const))("TLS on %s from the files' %s", (runtime, as) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, "tls.mjs", { env: { TLS_CERT: cert, TLS_KEY: key, TLS_AS: as } });
  });
  afterAll(() => server?.stop());

  it(`reads the certificate and key from the files' ${as}`, async () => {
    const res = await request(server.port, `from ${as}`, new https.Agent());
    expect(res).toEqual({
      status: 200,
      text: `${runtime} over TLS: POST https://127.0.0.1:${server.port}/secure?x=1 from ${as}`,
    });
  });
});
