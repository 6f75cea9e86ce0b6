// `carafe serve --metrics-bind`: the supervisor's /metrics sums every worker's counts, exactly,
// and keeps what a killed worker had counted; /healthz and /readyz follow the server's life.
// Real processes and sockets; every wait is on something the server says, never on a time.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import {
  allListening,
  bootedPids,
  fetchReply,
  openStream,
  serveInThisFile,
  waitForLines,
  type ServeProcess,
} from "./serve-process.ts";

const APP = "test/fixtures/metrics/app.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];
const METRICS_ANY_PORT = ["--metrics-bind", "127.0.0.1:0"];

const serve = serveInThisFile();
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The metrics server's address, from the banner line. */
async function metricsUrl(server: ServeProcess): Promise<string> {
  const line = await server.waitFor(/Metrics at: \S+\/metrics/);
  return (/Metrics at: (\S+)\/metrics/.exec(line) as RegExpExecArray)[1] as string;
}

/** One sample of the scrape: its name and labels. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(url: string): Promise<Sample[]> {
  const reply = await fetchReply(`${url}/metrics`);
  assert.equal(reply.status, 200, reply.text);
  assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return reply.text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match, `a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[key as string] = value as string;
      }
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** Request counts by route (`-` for requests that matched none). */
function byRoute(samples: Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.name !== "http_server_request_duration_seconds_count") continue;
    const route = sample.labels.http_route ?? "-";
    counts[route] = (counts[route] ?? 0) + sample.value;
  }
  return counts;
}

/** Scrapes until `done` holds (the test's timeout bounds the wait); returns that scrape. */
async function scrapeUntil(url: string, done: (samples: Sample[]) => boolean): Promise<Sample[]> {
  for (;;) {
    const samples = await scrape(url);
    if (done(samples)) return samples;
  }
}

const requestTotal = (samples: Sample[]): number =>
  total(samples, "http_server_request_duration_seconds_count");

/** The worker pids the scrape reports on. */
function workerPids(samples: Sample[]): number[] {
  return samples
    .filter((sample) => sample.name === "carafe_worker_resident_memory_bytes")
    .map((sample) => Number(sample.labels.worker))
    .sort();
}

/** Sends each path once, on a new connection each, all at once. */
async function sendAll(url: string, paths: string[]): Promise<void> {
  const replies = await Promise.all(paths.map((path) => fetchReply(`${url}${path}`)));
  for (const reply of replies) assert.ok(reply.status === 200 || reply.status === 404);
}

function repeat(path: string | ((i: number) => string), count: number): string[] {
  return Array.from({ length: count }, (_, i) => (typeof path === "string" ? path : path(i)));
}

/** Every sample of a counter or a histogram, by name and labels. */
function counts(samples: Sample[]): Map<string, number> {
  const kept = samples.filter((sample) => /_(total|count|sum|bucket)$/.test(sample.name));
  return new Map(
    kept.map((sample) => [`${sample.name}${JSON.stringify(sample.labels)}`, sample.value]),
  );
}

describe("carafe serve --metrics-bind", () => {
  it(
    "counts every request of every worker exactly, and keeps a killed worker's counts",
    { timeout: 90_000 },
    async () => {
      const server = await serve([
        APP,
        ...ANY_PORT,
        ...METRICS_ANY_PORT,
        "--workers",
        "2",
        "--threads",
        "2",
        "--initial-threads",
        "2",
        "--log-level",
        "debug",
      ]);
      await allListening(server, 2);
      const metrics = await metricsUrl(server);
      const paths = [
        ...repeat("/", 12),
        ...repeat((i) => `/user/${i}`, 10),
        ...repeat((i) => `/nothing/${i}`, 5),
        ...repeat("/loop-metric", 4),
        ...repeat("/thread-metric", 6),
      ];
      await sendAll(server.url, paths);
      const first = await scrapeUntil(metrics, (samples) => requestTotal(samples) >= paths.length);
      assert.equal(requestTotal(first), paths.length);
      assert.deepEqual(byRoute(first), {
        "/": 12,
        "/user/<int:id>": 10,
        "-": 5,
        "/loop-metric": 4,
        "/thread-metric": 6,
      });
      assert.equal(
        total(first, "http_server_request_duration_seconds_count", {
          http_response_status_code: "404",
        }),
        5,
      );
      assert.equal(total(first, "http_server_active_requests"), 0);
      assert.deepEqual(workerPids(first), bootedPids(server.lines).sort());
      assert.equal(total(first, "carafe_pool_threads"), 4);
      assert.equal(total(first, "carafe_workers"), 2);
      assert.equal(total(first, "app_loop_hits_total", { kind: "a" }), 4);

      // A pool thread's own metrics reach the supervisor through its loop, in the same scrape.
      const threaded = first;
      assert.equal(total(threaded, "app_thread_hits_total"), 6);
      assert.equal(total(threaded, "app_thread_sizes_bucket", { le: "1" }), 0);
      assert.equal(total(threaded, "app_thread_sizes_bucket", { le: "10" }), 6);
      assert.equal(total(threaded, "app_thread_sizes_count"), 6);

      // kill -9 one worker: its replacement starts from zero, and nothing it counted is lost.
      const before = counts(await scrape(metrics));
      const [victim] = workerPids(threaded) as [number];
      const from = server.lines.length;
      process.kill(victim, "SIGKILL");
      await server.waitFor(new RegExp(`Worker ${victim} died`), from);
      await waitForLines(server, / is listening$/, 1, from);
      const afterKill = await scrapeUntil(metrics, (samples) => workerPids(samples).length === 2);
      assert.ok(!workerPids(afterKill).includes(victim), "the killed worker's gauges are gone");
      const now = counts(afterKill);
      for (const [key, value] of before) {
        assert.ok(
          (now.get(key) ?? 0) >= value,
          `${key} went back from ${value} to ${now.get(key)}`,
        );
      }
      assert.equal(requestTotal(afterKill), paths.length);
      assert.equal(total(afterKill, "app_thread_hits_total"), 6);
      assert.equal(total(afterKill, "carafe_worker_restarts_total", { reason: "died" }), 1);

      // More requests add exactly.
      await sendAll(server.url, repeat("/", 8));
      const last = await scrapeUntil(
        metrics,
        (samples) => requestTotal(samples) >= paths.length + 8,
      );
      assert.equal(requestTotal(last), paths.length + 8);
      assert.equal(byRoute(last)["/"], 20);
    },
  );

  it("keeps the counts of workers recycled by --max-requests", { timeout: 60_000 }, async () => {
    const server = await serve([
      APP,
      ...ANY_PORT,
      ...METRICS_ANY_PORT,
      "--max-requests",
      "4",
      "--log-level",
      "debug",
    ]);
    const metrics = await metricsUrl(server);
    // Ten requests on one worker: it passes --max-requests and is replaced, twice.
    for (let i = 0; i < 10; i += 1) await sendAll(server.url, ["/"]);
    await server.waitFor(/Worker exiting \(pid: \d+\)/);
    const samples = await scrapeUntil(metrics, (each) => requestTotal(each) >= 10);
    assert.equal(requestTotal(samples), 10);
    assert.ok(total(samples, "carafe_worker_restarts_total", { reason: "max_requests" }) >= 1);
  });

  it(
    "answers /readyz 503 until the workers are up and again while draining; /healthz 200 throughout",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "carafe-readyz-"));
      dirs.push(dir);
      const bootGate = join(dir, "boot");
      const release = join(dir, "release");
      const server = await serve(
        [
          APP,
          ...ANY_PORT,
          ...METRICS_ANY_PORT,
          "--healthz-path",
          "/healthz",
          "--readyz-path",
          "/readyz",
          "--log-level",
          "debug",
        ],
        { env: { CARAFE_TEST_BOOT_GATE: bootGate }, waitForListening: false },
      );
      const metrics = await metricsUrl(server);
      assert.equal((await fetchReply(`${metrics}/healthz`)).status, 200);
      const booting = await fetchReply(`${metrics}/readyz`);
      assert.equal(booting.status, 503, "the worker is still importing the app");

      writeFileSync(bootGate, "");
      await allListening(server, 1);
      const listening = await server.waitFor(/Listening at: \S+/);
      const url = (/Listening at: (\S+)/.exec(listening) as RegExpExecArray)[1] as string;
      assert.equal((await fetchReply(`${metrics}/readyz`)).status, 200);
      // The worker answers its own probe paths, before the app (which has no such routes).
      assert.deepEqual(
        [(await fetchReply(`${url}/healthz`)).status, (await fetchReply(`${url}/readyz`)).status],
        [200, 200],
      );
      assert.equal((await fetchReply(`${metrics}/nothing`)).status, 404);

      // A request held open keeps the drain going while the probes are asked.
      const held = fetchReply(`${url}/hold?until=${encodeURIComponent(release)}`);
      await server.waitFor(/^holding in /);
      const from = server.lines.length;
      server.child.kill("SIGTERM");
      await server.waitFor(/Worker exiting/, from);
      assert.equal((await fetchReply(`${metrics}/readyz`)).status, 503, "draining");
      assert.equal((await fetchReply(`${metrics}/healthz`)).status, 200);

      writeFileSync(release, "");
      assert.equal((await held).text, "released");
      assert.equal(await server.exited, 0);
    },
  );

  it(
    "answers /readyz 503 while a HUP generation replaces the old one, and keeps the old one's counts",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "carafe-reload-"));
      dirs.push(dir);
      const bootGate = join(dir, "boot");
      writeFileSync(bootGate, "");
      const server = await serve(
        [APP, ...ANY_PORT, ...METRICS_ANY_PORT, "--workers", "2", "--log-level", "debug"],
        { env: { CARAFE_TEST_BOOT_GATE: bootGate } },
      );
      await allListening(server, 2);
      const metrics = await metricsUrl(server);
      await sendAll(server.url, repeat("/", 6));
      await scrapeUntil(metrics, (samples) => requestTotal(samples) >= 6);
      assert.equal((await fetchReply(`${metrics}/readyz`)).status, 200);

      // The new generation waits at the gate: the reload is under way.
      rmSync(bootGate);
      const from = server.lines.length;
      server.child.kill("SIGHUP");
      await server.waitFor(/Handling signal: hup/, from);
      assert.equal((await fetchReply(`${metrics}/readyz`)).status, 503, "reloading");
      writeFileSync(bootGate, "");
      await server.waitFor(/Reload complete/, from);
      assert.equal((await fetchReply(`${metrics}/readyz`)).status, 200);

      // The old generation drains away; what it counted stays, exactly.
      await waitForLines(server, /Worker exiting/, 2, from);
      await sendAll(server.url, repeat("/user/1", 3));
      const after = await scrapeUntil(
        metrics,
        (samples) =>
          requestTotal(samples) >= 9 &&
          total(samples, "carafe_workers") === 2 &&
          workerPids(samples).length === 2,
      );
      assert.equal(requestTotal(after), 9);
      assert.deepEqual(byRoute(after), { "/": 6, "/user/<int:id>": 3 });
      assert.equal(total(after, "carafe_worker_restarts_total", { reason: "reload" }), 2);
    },
  );

  it(
    "measures a streamed response to its last byte and counts the bytes written, on the loop and on a thread",
    { timeout: 60_000 },
    async () => {
      const server = await serve([APP, ...ANY_PORT, ...METRICS_ANY_PORT, "--threads", "1"]);
      const metrics = await metricsUrl(server);
      for (const where of ["loop", "thread"]) {
        const route = { http_route: `/stream/${where}` };
        const stream = await openStream(`${server.url}/stream/${where}`);
        const firstAt = performance.now();
        assert.equal(stream.first, "a".repeat(1000));
        const held = await scrape(metrics);
        assert.equal(total(held, "http_server_active_requests"), 1, `${where}: still sending`);
        assert.equal(total(held, "http_server_request_duration_seconds_count", route), 0);
        const releasedAt = performance.now();
        assert.equal((await fetchReply(`${server.url}/release`)).text, "released");
        assert.equal((await stream.rest()).length, 4000);
        const samples = await scrapeUntil(
          metrics,
          (each) => total(each, "http_server_request_duration_seconds_count", route) === 1,
        );
        assert.equal(total(samples, "http_server_active_requests"), 0);
        assert.equal(total(samples, "http_server_response_body_size_bytes_sum", route), 5000);
        assert.equal(total(samples, "http_server_response_body_size_bytes_count", route), 1);
        const seconds = total(samples, "http_server_request_duration_seconds_sum", route);
        assert.ok(
          seconds * 1000 >= releasedAt - firstAt,
          `${where}: ${seconds * 1000} ms measured, the body was held ${releasedAt - firstAt} ms`,
        );
      }

      // A client that leaves after the first chunk: what was written is counted, once it left.
      const route = { http_route: "/stream/loop" };
      const stream = await openStream(`${server.url}/stream/loop`);
      stream.abort();
      const samples = await scrapeUntil(
        metrics,
        (each) => total(each, "http_server_request_duration_seconds_count", route) === 2,
      );
      assert.equal(total(samples, "http_server_response_body_size_bytes_sum", route), 6000);
      assert.equal(total(samples, "http_server_active_requests"), 0);
      await fetchReply(`${server.url}/release`);
    },
  );

  it("counts open WebSockets and broadcasts made on the loop and on a pool thread", async () => {
    const server = await serve([
      "test/fixtures/sockets/app.ts:app",
      ...ANY_PORT,
      ...METRICS_ANY_PORT,
    ]);
    const metrics = await metricsUrl(server);
    const client = new Client(`${server.url.replace("http://", "ws://")}/room/a`);
    const inbox: string[] = [];
    const arrived = (count: number): Promise<void> =>
      new Promise((done) => {
        const check = (): void => {
          if (inbox.length < count) return;
          client.off("message", check);
          done();
        };
        client.on("message", check);
        check();
      });
    client.on("message", (data) => inbox.push(String(data)));
    await once(client, "open");
    await arrived(1); // joined
    await fetchReply(`${server.url}/announce/a?text=x`, { method: "POST" });
    await fetchReply(`${server.url}/announce-from-thread/a?text=y`, { method: "POST" });
    await arrived(3);
    const samples = await scrape(metrics);
    assert.equal(total(samples, "carafe_websocket_connections"), 1);
    assert.equal(total(samples, "carafe_websocket_broadcasts_total"), 2);
    client.close();
  });

  it("fails to start with a clear message when the metrics address is taken", async () => {
    const first = await serve([APP, ...ANY_PORT, ...METRICS_ANY_PORT]);
    const taken = new URL(await metricsUrl(first)).host;
    const second = await serve([APP, ...ANY_PORT, "--metrics-bind", taken], {
      waitForListening: false,
    });
    assert.notEqual(await second.exited, 0);
    assert.ok(
      second.lines.some((line) =>
        line.includes(`--metrics-bind http://${taken}: cannot listen there`),
      ),
      second.lines.join("\n"),
    );
  });
});
