// Carafe behind Debian's nginx, configured by the repository's deploy/nginx/carafe.conf: two
// `carafe serve` processes as the upstream, real sockets end to end.
import assert from "node:assert/strict";
import { once } from "node:events";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import { nginxMissing, startNginx, type NginxProcess } from "./nginx-process.ts";
import { freePort, serveInThisFile, type ServeProcess } from "./serve-process.ts";

const serve = serveInThisFile();

/** What test/fixtures/deploy/app.ts answers on /whoami. */
interface Whoami {
  host: string;
  pid: number;
  remoteAddr: string;
  scheme: string;
  hostHeader: string;
  requestId: string | null;
}

/** A `carafe serve` of the deploy fixture on a free port, trusting nginx (on 127.0.0.1). */
function serveHost(name: string): Promise<ServeProcess> {
  return serve(
    [
      "test/fixtures/deploy/app.ts:app",
      "--bind",
      "127.0.0.1:0",
      "--forwarded-allow-ips",
      "127.0.0.1",
    ],
    { env: { HOST_NAME: name } },
  );
}

/** `/whoami` through `url`, from the client address `from`, with `headers`. */
async function whoami(
  url: string,
  options: { from?: string; headers?: Record<string, string> } = {},
): Promise<Whoami> {
  const reply = await new Promise<{ status: number; text: string }>((done, fail) => {
    const req = request(
      `${url}/whoami`,
      { headers: options.headers, localAddress: options.from ?? "127.0.0.1", agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => done({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", fail).end();
  });
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text) as Whoami;
}

/** POSTs `size` bytes to `/upload` through `url`. */
function upload(url: string, size: number): Promise<{ status: number; text: string }> {
  return fetch(`${url}/upload`, { method: "POST", body: new Uint8Array(size) }).then(
    async (response) => ({ status: response.status, text: await response.text() }),
  );
}

describe("Carafe behind nginx (deploy/nginx/carafe.conf)", { skip: nginxMissing }, () => {
  let one: ServeProcess;
  let two: ServeProcess;
  let nginx: NginxProcess;

  before(async () => {
    [one, two] = await Promise.all([serveHost("one"), serveHost("two")]);
    const upstreams = [one, two].map((server) => server.url.replace("http://", ""));
    nginx = await startNginx(upstreams, await freePort());
  });
  after(() => nginx?.stop());

  it("spreads requests over both servers", async () => {
    const hosts = new Set<string>();
    for (let i = 0; i < 4; i += 1) hosts.add((await whoami(nginx.url)).host);
    assert.deepEqual([...hosts].sort(), ["one", "two"]);
  });

  it("gives the app the client's address, scheme and host, and a request id", async () => {
    // The client connects from 127.0.0.2 and claims to be someone else behind HTTPS: nginx
    // appends its real address and overwrites the scheme, and Carafe believes only nginx.
    const seen = await whoami(nginx.url, {
      from: "127.0.0.2",
      headers: { "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https" },
    });
    assert.equal(seen.remoteAddr, "127.0.0.2");
    assert.equal(seen.scheme, "http");
    assert.equal(seen.hostHeader, "127.0.0.1");
    assert.match(seen.requestId ?? "", /^[0-9a-f]{32}$/);
    const kept = await whoami(nginx.url, { headers: { "X-Request-ID": "edge-42" } });
    assert.equal(kept.requestId, "edge-42");
    // Straight to Carafe, the same claims come from an untrusted peer and count for nothing.
    const direct = await whoami(one.url, {
      from: "127.0.0.2",
      headers: { "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https" },
    });
    assert.deepEqual([direct.remoteAddr, direct.scheme], ["127.0.0.2", "http"]);
  });

  it("upgrades WebSockets through nginx", async () => {
    const client = new Client(`${nginx.url.replace("http://", "ws://")}/echo`);
    await once(client, "open");
    const reply = once(client, "message");
    client.send("hello");
    assert.match(String((await reply)[0]), /^(one|two) hello$/);
    const closed = once(client, "close");
    client.close(1000);
    assert.equal((await closed)[0], 1000);
  });

  it("refuses a body over Carafe's 1 MiB limit with 413, as Carafe itself does", async () => {
    const limit = 1024 * 1024;
    const accepted = await upload(nginx.url, limit);
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal((JSON.parse(accepted.text) as { bytes: number }).bytes, limit);
    assert.equal((await upload(nginx.url, limit + 1)).status, 413);
    assert.equal((await upload(one.url, limit + 1)).status, 413);
  });

  it("sends requests to the other server while one is down", async () => {
    assert.equal(await two.stop("SIGTERM"), 0);
    const hosts = new Set<string>();
    for (let i = 0; i < 6; i += 1) hosts.add((await whoami(nginx.url)).host);
    // A POST is not repeated once sent, but one whose connection was refused was never sent.
    const posted = await upload(nginx.url, 10);
    assert.equal(posted.status, 200, posted.text);
    assert.deepEqual([...hosts, (JSON.parse(posted.text) as Whoami).host], ["one", "one"]);
    assert.ok(
      nginx.accessLog().some((line) => /, /.test(line)),
      "nginx's access log shows a request tried on both servers",
    );
  });
});
