// The robustness probe: hostile HTTP/1.1 requests kept as data files (test/fixtures/http/, see
// its README), each sent on its own raw connection to a real `carafe serve`; then clients that
// trickle their headers and thousands of idle connections, which must not stop others being
// served.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { RawClient, readCases, runCase, type HttpCase } from "./http-cases.ts";
import { bootedPids, fetchReply, startServe, type ServeProcess } from "./serve-process.ts";

const CASES = resolve(import.meta.dirname, "../fixtures/http");
const APP = "test/fixtures/http/app.ts";
// Small limits keep the limit cases short enough to read (see the README of the cases).
const LIMITS = [
  "--limit-request-line",
  "256",
  "--limit-request-fields",
  "16",
  "--limit-request-field-size",
  "256",
];
// A test the server fails by never answering (or never closing) fails with its name instead of
// holding the run.
const TEST_TIMEOUT = 30_000;

let server: ServeProcess;
let port: number;
let workerPid: number;
const clients: RawClient[] = [];

before(async () => {
  server = await startServe([APP, "--bind", "127.0.0.1:0", ...LIMITS]);
  port = Number(new URL(server.url).port);
  [workerPid] = bootedPids(server.lines) as [number];
});

after(async () => {
  for (const client of clients) client.socket.destroy();
  await server?.stop("SIGKILL");
});

/** How a case's expectation reads in a test name. */
function expectation(httpCase: HttpCase): string {
  const answered =
    httpCase.statuses.length === 0 ? "not answered" : `answered ${httpCase.statuses.join(", ")}`;
  return `${answered}, ${httpCase.connection === "close" ? "then closed" : "then kept alive"}`;
}

/** The open-file limit of this process, when the platform tells it. */
function openFileLimit(): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((each) => each.startsWith("Max open files"));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(soft) ? soft : null;
  } catch {
    return null;
  }
}

/** Whether the first worker is still the one serving: alive and answering. */
async function assertWorkerServes(): Promise<void> {
  const reply = await fetchReply(`${server.url}/echo`);
  assert.equal(reply.status, 200);
  assert.equal((JSON.parse(reply.text) as { pid: number }).pid, workerPid);
  process.kill(workerPid, 0);
}

describe("carafe serve against hostile HTTP/1.1 requests", () => {
  for (const httpCase of readCases(CASES)) {
    it(`${httpCase.file} is ${expectation(httpCase)}`, { timeout: TEST_TIMEOUT }, async () => {
      const outcome = await runCase(port, httpCase);
      // Kept alive, the connection also answers the follow-up request with 200.
      const expected = [
        ...httpCase.statuses,
        ...(httpCase.connection === "keep-alive" ? [200] : []),
      ];
      assert.deepEqual(
        outcome.statuses,
        expected,
        `${httpCase.file}: expected responses ${JSON.stringify(expected)} (a last 200 answers the ` +
          `follow-up on a kept connection), got ${JSON.stringify(outcome.statuses)}:\n` +
          outcome.text.slice(0, 2000),
      );
      for (const text of httpCase.bodyIncludes) {
        assert.ok(
          outcome.text.includes(text),
          `${httpCase.file}: the responses do not include ${text}:\n${outcome.text.slice(0, 2000)}`,
        );
      }
    });
  }

  it("still serves from the same worker after every case", async () => {
    await assertWorkerServes();
    assert.ok(!server.lines.some((line) => /Worker \d+ died/.test(line)), server.lines.join("\n"));
  });
});

describe("carafe serve against slow and idle clients", () => {
  it(
    "serves other clients while slow ones send their headers a byte at a time",
    { timeout: TEST_TIMEOUT },
    async () => {
      const request = Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: yes\r\n\r\n");
      const slow = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(port)));
      clients.push(...slow);
      // Each byte the slow clients send is followed by a whole request from another client: the
      // trickle advances only as fast as the others are served.
      for (let at = 0; at < request.length - 1; at++) {
        for (const client of slow) client.write(request.subarray(at, at + 1));
        const reply = await fetchReply(`${server.url}/`);
        assert.equal(reply.status, 200, `the request after byte ${at} of the slow ones`);
      }
      assert.ok(
        slow.every((client) => client.text === "" && !client.socket.destroyed),
        "a slow client was answered or dropped before its headers were complete",
      );
      // Their last byte completes their requests: they are served too.
      for (const client of slow) client.write(request.subarray(request.length - 1));
      const answers = await Promise.all(slow.map((client) => client.responses(1)));
      assert.deepEqual(
        answers.map((responses) => responses[0]?.status),
        slow.map(() => 200),
      );
      for (const client of slow) client.socket.destroy();
    },
  );

  it(
    "serves a request while 2,000 idle connections are open, from the same worker",
    { timeout: TEST_TIMEOUT },
    async () => {
      // Each connection costs this process a descriptor (and the worker one): stay under the limit.
      const count = Math.min(2000, (openFileLimit() ?? 1024) - 256);
      for (let opened = 0; opened < count; opened += 200) {
        const batch = Math.min(200, count - opened);
        clients.push(
          ...(await Promise.all(Array.from({ length: batch }, () => RawClient.connect(port)))),
        );
      }
      // The worker accepts in order: this request is answered after every idle connection was.
      await assertWorkerServes();
      for (const client of clients) client.socket.destroy();
      await Promise.all(clients.map((client) => client.closed));
      await assertWorkerServes();
    },
  );
});
