// Scale-out as it is run: two Carafe hosts, each in a network namespace of its own (a machine of
// its own, as far as the network goes), behind nginx configured by deploy/nginx/carafe.conf,
// sharing their WebSocket rooms through one Redis server.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import {
  createHosts,
  namespacesUnavailable,
  removeHosts,
  type Host,
} from "./network-namespaces.ts";
import { nginxMissing, startNginx, type NginxProcess } from "./nginx-process.ts";
import { redisMissing, startRedis } from "./redis-process.ts";
import {
  allListening,
  bootedPids,
  fetchReply,
  freePort,
  startServe,
  type ServeProcess,
} from "./serve-process.ts";
import { startSteadyLoad } from "./steady-load.ts";

/** Every host listens on this port of its own address, as machines of one fleet do. */
const PORT = 8000;
const WORKERS = 2;

const servers = new Map<string, ServeProcess>();
let redis: ChildProcess | undefined;
let nginx: NginxProcess | undefined;
after(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop("SIGKILL")));
  redis?.kill("SIGKILL");
  await nginx?.stop();
  removeHosts();
});

/** Starts `carafe serve` in `host` and resolves once nginx's side of the network gets answers. */
async function startHost(host: Host, redisUrl: string): Promise<ServeProcess> {
  const server = await startServe(
    [
      "test/fixtures/deploy/app.ts:app",
      "--bind",
      `${host.address}:${PORT}`,
      "--workers",
      String(WORKERS),
      // nginx reaches the host from the root namespace's end of the link.
      "--forwarded-allow-ips",
      host.gateway,
      "--log-level",
      "debug",
    ],
    { env: { HOST_NAME: host.name, REDIS_URL: redisUrl }, prefix: host.exec },
  );
  servers.set(host.name, server);
  await allListening(server, WORKERS);
  const reply = await fetchReply(`http://${host.address}:${PORT}/whoami`);
  assert.equal(reply.status, 200, reply.text);
  return server;
}

/** A WebSocket client of `/room/<room>` through nginx, joined on the host named `on`. */
async function joinOn(base: string, room: string, on: string) {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const client = new Client(`${base.replace("http://", "ws://")}/room/${room}`);
    const inbox: string[] = [];
    const waiters: (() => void)[] = [];
    client.on("message", (data) => {
      inbox.push(String(data));
      for (const wake of waiters.splice(0)) wake();
    });
    await once(client, "open");
    while (inbox.length === 0) await new Promise<void>((wake) => waiters.push(wake));
    if (inbox.shift() !== `joined ${on}`) {
      client.close();
      continue;
    }
    /** Resolves once `text` has arrived. */
    const receives = async (text: string): Promise<void> => {
      while (!inbox.includes(text)) await new Promise<void>((wake) => waiters.push(wake));
    };
    return { client, receives };
  }
  throw new Error(`nginx never passed a WebSocket to host ${on} in 10 tries`);
}

/** POSTs `/announce/<room>?text=…` through nginx until host `on` serves it; its text. */
async function announceFrom(base: string, room: string, on: string): Promise<string> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const text = `news-${attempt}`;
    const reply = await fetchReply(`${base}/announce/${room}?text=${text}`, { method: "POST" });
    assert.equal(reply.status, 200, reply.text);
    if ((JSON.parse(reply.text) as { host: string }).host === on) return `${text} from ${on}`;
  }
  throw new Error(`nginx never passed a POST to host ${on} in 10 tries`);
}

const skip = nginxMissing || redisMissing || namespacesUnavailable;

describe("Two hosts behind nginx, their rooms shared through Redis", { skip }, () => {
  let hosts: Host[] = [];
  let redisUrlOf: (host: Host) => string;

  before(async () => {
    hosts = createHosts(["a", "b"]);
    const redisPort = await freePort();
    redis = await startRedis(redisPort, ["127.0.0.1", ...hosts.map((host) => host.gateway)]);
    redisUrlOf = (host) => `redis://${host.gateway}:${redisPort}`;
    await Promise.all(hosts.map((host) => startHost(host, redisUrlOf(host))));
    const upstreams = hosts.map((host) => `${host.address}:${PORT}`);
    nginx = await startNginx(upstreams, await freePort());
  });

  it("brings a client on host A a broadcast sent by a route on host B", async () => {
    const base = (nginx as NginxProcess).url;
    const member = await joinOn(base, "lobby", "a");
    await member.receives(await announceFrom(base, "lobby", "b"));
    member.client.close();
  });

  it("answers every request while host A, then host B, restarts", async (t) => {
    const base = (nginx as NginxProcess).url;
    const load = startSteadyLoad(`${base}/whoami`, 20);
    for (const host of hosts) await load.reached(bootedPids(servers.get(host.name)?.lines ?? []));
    for (const host of hosts) {
      const old = servers.get(host.name) as ServeProcess;
      assert.equal(await old.stop("SIGTERM"), 0, old.lines.join("\n"));
      const fresh = await startHost(host, redisUrlOf(host));
      // nginx sends it requests again: only then may the next host go.
      await load.reached(bootedPids(fresh.lines));
    }
    const summary = await load.stop();
    const proxy = nginx as NginxProcess;
    const retried = proxy.accessLog().filter((line) => line.includes(", ")).length;
    const why = (pattern: RegExp) => proxy.errorLog().filter((line) => pattern.test(line)).length;
    const byHost = Object.entries(summary.byHost).map(([host, count]) => `${count} by ${host}`);
    t.diagnostic(
      `${summary.sent} requests through nginx, ${summary.answered} answered 2xx ` +
        `(${byHost.join(", ")}), ${summary.failures.length} failed; nginx retried ${retried} ` +
        `on the other host (connection refused ${why(/\(111: /)}, reset ${why(/\(104: /)}, ` +
        `closed early ${why(/prematurely closed/)})`,
    );
    assert.deepEqual(summary.failures, []);
    assert.equal(summary.answered, summary.sent);
    // The restarted hosts share their rooms again, the other way round this time.
    const member = await joinOn(base, "after", "b");
    await member.receives(await announceFrom(base, "after", "a"));
    member.client.close();
  });

  it("restarts a host that nginx no longer sends to without a failed attempt, POSTs and all", async (t) => {
    const proxy = nginx as NginxProcess;
    // Every host, the one named `down` marked so: nginx sends it nothing.
    const upstreams = (down?: Host): string[] =>
      hosts.map((host) => `${host.address}:${PORT}${host === down ? " down" : ""}`);
    // (A WebSocket of the tests before is logged as 101 when it closes.)
    const [errors, answers] = [proxy.errorLog().length, proxy.accessLog().length];
    const load = startSteadyLoad(`${proxy.url}/whoami`, 20, "POST");
    for (const host of hosts) await load.reached(bootedPids(servers.get(host.name)?.lines ?? []));
    for (const host of hosts) {
      await proxy.reload(upstreams(host));
      const old = servers.get(host.name) as ServeProcess;
      assert.equal(await old.stop("SIGTERM"), 0, old.lines.join("\n"));
      const fresh = await startHost(host, redisUrlOf(host));
      await proxy.reload(upstreams());
      await load.reached(bootedPids(fresh.lines));
    }
    const summary = await load.stop();
    const failedAttempts = proxy
      .errorLog()
      .slice(errors)
      .filter((line) => /\[error\]/.test(line));
    const notOk = proxy
      .accessLog()
      .slice(answers)
      .filter((line) => !/^(200|101) /.test(line));
    t.diagnostic(
      `${summary.sent} POSTs through nginx, ${summary.answered} answered 2xx; ` +
        `${failedAttempts.length} failed attempts on a host, ${notOk.length} answers not 200; ` +
        `${summary.failures.length} client connections reset by nginx's reloads`,
    );
    // Between nginx and the hosts nothing was refused or reset, and every POST was answered.
    assert.deepEqual(failedAttempts, []);
    assert.deepEqual(notOk, []);
    // nginx's own reload closes the client connections its old worker still holds: a client
    // retries those. They never reached a host.
    assert.ok(summary.failures.every((failure) => failure === "error ECONNRESET"));
    assert.equal(summary.answered + summary.failures.length, summary.sent);
  });
});
