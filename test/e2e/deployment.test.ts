/**
 * The deployment of issue 16, with the real pieces: a redis-server, three
 * portico processes (node, deno, bun) sharing it, and nginx in front.
 *
 * nginx reaches the processes two ways, because Debian's nginx cannot do
 * both on one path: its HTTP proxy keeps upstream connections alive
 * (`keepalive`) and forwards the client in X-Forwarded-For/-Proto/-Host
 * (portico: `trustProxy` for nginx's address), but cannot send a PROXY
 * header; its stream proxy sends one (`proxy_protocol on`; portico:
 * `proxyProtocol: true`) but balances TCP connections, one upstream
 * connection per client connection. Each process listens for both.
 * nginx connects to the upstreams from 127.0.0.2 (`proxy_bind`) and the test
 * client from 127.0.0.3, so the addresses tell who is who.
 */
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { printStderrOnFailure, RUNTIMES, type RunningServer, startServer } from "../helpers/runtime.ts";
import { freePort, type RedisServer, startRedis } from "../helpers/redis.ts";
import { type Nginx, startNginx, STREAM_MODULE } from "../helpers/nginx.ts";

interface Answer {
  status: number;
  text: string;
  links: string[];
  servedBy: string;
}

/** A GET from 127.0.0.3 on a fresh connection (so nginx's balancing spreads the steps). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, localAddress: "127.0.0.3", agent: false, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          text,
          links: [...text.matchAll(/(?:href|action)="([^"]+)"/g)].map((m) => m[1].replaceAll("&amp;", "&")),
          servedBy: String(res.headers["x-served-by"] ?? ""),
        }));
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

let redis: RedisServer;
let nginx: Nginx;
const servers: RunningServer[] = [];
const httpPorts: number[] = [];
const ppPorts: number[] = [];
let front = 0; // nginx's HTTP proxy
let stream = 0; // nginx's stream proxy with PROXY protocol

function startProcess(i: number): Promise<RunningServer> {
  return startServer(RUNTIMES[i], "redis_app.mjs", {
    env: {
      REDIS_URL: redis.url,
      REDIS_PREFIX: "portico-deploy:",
      PORTICO_OPTIONS: JSON.stringify({ port: httpPorts[i], trustProxy: ["127.0.0.2"] }),
      PORTICO_PP_PORT: String(ppPorts[i]),
    },
  });
}

beforeAll(async () => {
  redis = await startRedis();
  for (let i = 0; i < 3; i++) {
    httpPorts.push(await freePort());
    ppPorts.push(await freePort());
  }
  front = await freePort();
  stream = await freePort();
  servers.push(...await Promise.all([0, 1, 2].map(startProcess)));
  const upstreams = (ports: number[]) => ports.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join("\n");
  nginx = await startNginx(
    (dir) => `load_module ${STREAM_MODULE};
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  # An HTTP/1.0 request may come without Host: name the proxy's own address then.
  map $http_host $upstream_host { "" $server_addr:$server_port; default $http_host; }
  upstream portico {
${upstreams(httpPorts)}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${front};
    location / {
      proxy_pass http://portico;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $upstream_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $upstream_host;
      proxy_bind 127.0.0.2;
      proxy_connect_timeout 1s;
      proxy_next_upstream error timeout;
    }
  }
}
stream {
  upstream portico_pp {
${upstreams(ppPorts)}
  }
  server {
    listen 127.0.0.1:${stream};
    proxy_pass portico_pp;
    proxy_protocol on;
    proxy_bind 127.0.0.2;
    proxy_connect_timeout 1s;
  }
}
`,
    front,
  );
}, 60_000);

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(servers.map((s) => s.stop()));
  await redis?.stop();
});

beforeEach((ctx) => {
  for (let i = 0; i < 3; i++) printStderrOnFailure(ctx, RUNTIMES[i], () => servers[i]);
});

async function walk(port: number, a: number, b: number): Promise<Set<string>> {
  const by = new Set<string>();
  const first = await get(port, "/sum2/");
  expect(first.status).toBe(200);
  by.add(first.servedBy);
  const second = await get(port, `${first.links[0]}?number=${a}`);
  expect(second.text).toContain("Second number:");
  by.add(second.servedBy);
  const done = await get(port, `${second.links[0]}?number=${b}`);
  expect(done.text).toContain(`The sum is ${a + b}`);
  by.add(done.servedBy);
  return by;
}

describe("redis-server, node, deno and bun behind nginx", () => {
  it("walks sum2 50 times through nginx's HTTP proxy and 50 times through its PROXY-protocol stream, never expired", async () => {
    for (const port of [front, stream]) {
      const seen = new Set<string>();
      for (let i = 0; i < 50; i++) for (const s of await walk(port, i, 1000)) seen.add(s);
      expect([...seen].map((s) => s.split(" ")[0]).sort()).toEqual(["bun", "deno", "node"]);
    }
  }, 60_000);

  it("answers a back-button step on another process than the one that made it", async () => {
    const first = await get(front, "/sum2/");
    const second = await get(front, `${first.links[0]}?number=30`);
    const k2 = second.links[0];
    const done = await get(front, `${k2}?number=12`);
    expect(done.text).toContain("The sum is 42");
    // Back to the second page, until another process than its maker answers.
    for (let i = 0; ; i++) {
      const back = await get(front, `${k2}?number=${i}`);
      expect(back.text).toContain(`The sum is ${30 + i}`);
      if (back.servedBy !== second.servedBy) break;
      expect(i).toBeLessThan(10);
    }
  });

  it("sees the client's address: X-Forwarded-For from nginx (a spoofed one ignored), and the PROXY header's", async () => {
    const viaHttp = JSON.parse((await get(front, "/client", { "x-forwarded-for": "203.0.113.5" })).text);
    expect(viaHttp.hostname).toBe("127.0.0.3");
    const viaStream = await new Promise<{ remote: { hostname: string; port: number }; local: number }>(
      (resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port: stream, path: "/client", localAddress: "127.0.0.3", agent: false }, (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ remote: JSON.parse(text), local: req.socket!.localPort! }));
        });
        req.on("error", reject);
      },
    );
    expect(viaStream.remote.hostname).toBe("127.0.0.3");
    expect(viaStream.remote.port).toBe(viaStream.local);
  });

  it("answers an HTTP/1.0 request without Host through nginx (a health checker's), with the proxy's address as host", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = net.connect(front, "127.0.0.1", () => s.write("GET /whoami HTTP/1.0\r\n\r\n"));
      let got = "";
      s.on("data", (d) => (got += d));
      s.on("error", reject);
      s.on("close", () => resolve(got));
    });
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/\r\n\r\n(node|deno|bun) \d+$/);
  });

  it("finishes a walk while a process is killed and restarted in the middle of it", async () => {
    for (let victim = 0; victim < 3; victim++) {
      const first = await get(front, "/sum2/");
      const second = await get(front, `${first.links[0]}?number=${victim}`);
      servers[victim].child.kill("SIGKILL");
      await servers[victim].stop();
      // nginx retries a refused connection on the next upstream.
      const meanwhile = await get(front, `${second.links[0]}?number=7`);
      expect(meanwhile.text).toContain(`The sum is ${victim + 7}`);
      expect(await walk(front, 1, 2)).not.toContain(`${RUNTIMES[victim]} ${servers[victim].child.pid}`);
      servers[victim] = await startProcess(victim);
      const pid = servers[victim].child.pid;
      // The restarted process answers its share again, old k-URLs included.
      let served = false;
      for (let i = 0; i < 12 && !served; i++) {
        const again = await get(front, `${second.links[0]}?number=${i}`);
        expect(again.text).toContain(`The sum is ${victim + i}`);
        served = again.servedBy === `${RUNTIMES[victim]} ${pid}`;
      }
      expect(served).toBe(true);
    }
  }, 90_000);

  it("answers 503 through nginx while redis is down, then recovers", async () => {
    const first = await get(front, "/sum2/");
    await redis.stop();
    for (let i = 0; i < 6; i++) {
      const down = await get(front, i % 2 ? "/sum2/" : `${first.links[0]}?number=1`);
      expect(down.status).toBe(503);
      expect(down.text).toContain("session store cannot be reached");
    }
    expect((await get(front, "/whoami")).status).toBe(200);
    await redis.start();
    const until = Date.now() + 10_000;
    let ok = 0;
    while (ok < 6) {
      ok = (await get(front, "/sum2/")).status === 200 ? ok + 1 : 0;
      expect(Date.now()).toBeLessThan(until);
    }
    for (let i = 0; i < 10; i++) await walk(front, i, 5);
    for (const s of servers) expect(s.child.exitCode).toBe(null);
  }, 30_000);
});
