// The robustness probe: hostile HTTP/1.1 requests kept as data files (test/fixtures/http/, see
// its README), each sent on its own raw connection to a real `carafe serve`.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { readCases, runCase, type HttpCase } from "./http-cases.ts";
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
// A case the server fails by never answering (or never closing) fails with its name instead of
// holding the run.
const TEST_TIMEOUT = 30_000;

let server: ServeProcess;
let port: number;
let workerPid: number;

before(async () => {
  server = await startServe([APP, "--bind", "127.0.0.1:0", ...LIMITS]);
  port = Number(new URL(server.url).port);
  [workerPid] = bootedPids(server.lines) as [number];
});

after(async () => {
  await server?.stop("SIGKILL");
});

/** How a case's expectation reads in a test name. */
function expectation(httpCase: HttpCase): string {
  const answered =
    httpCase.statuses.length === 0 ? "not answered" : `answered ${httpCase.statuses.join(", ")}`;
  return `${answered}, ${httpCase.connection === "close" ? "then closed" : "then kept alive"}`;
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
    const todo = httpCase.knownBug === null ? {} : { todo: `known bug: ${httpCase.knownBug}` };
    it(
      `${httpCase.file} is ${expectation(httpCase)}`,
      { timeout: TEST_TIMEOUT, ...todo },
      async () => {
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
      },
    );
  }

  it("still serves from the same worker after every case", async () => {
    await assertWorkerServes();
    assert.ok(!server.lines.some((line) => /Worker \d+ died/.test(line)), server.lines.join("\n"));
  });
});
