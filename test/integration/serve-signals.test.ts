// `carafe serve` when signals pile up or the supervisor itself is lost: real processes, real
// signals, and waits on what the server prints, never on a fixed time.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import {
  allListening,
  bootedPids,
  fetchReply,
  serveInThisFile,
  waitForLines,
} from "./serve-process.ts";

const APP = "test/fixtures/pool/app.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];

const serve = serveInThisFile();

/**
 * Whether process `pid` still runs. One that has exited and waits to be reaped does not, nor
 * one in the middle of its exit: the kernel releases a process's memory before its files (the
 * pipe a test waits on closes then), and marks it a zombie only after both.
 */
function isRunning(pid: number): boolean {
  try {
    // The state follows the command name in parentheses: "1234 (node) S ...".
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    // A process that still has its memory lists it in status (VmRSS); an exiting one does not.
    return state !== "Z" && /^VmRSS:/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false; // gone, or reaped between the two reads
  }
}

// Reads the version a deploy wrote next to it, then boots only while the file `gate` exists:
// a test holds a generation in its boot by removing it.
const VERSIONED_APP = `import { existsSync, readFileSync } from "node:fs";
import { Carafe } from "carafe";

const version = readFileSync(new URL("./version.txt", import.meta.url), "utf8");
console.log(\`imported version \${version} in \${process.pid}\`);
while (!existsSync(new URL("./gate", import.meta.url))) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}

export const app = new Carafe();
app.route("/", () => version);
`;

describe("carafe serve signals", () => {
  it(
    "reloads once more for the HUPs that came during a reload, with a worker added by TTIN",
    { timeout: 90_000 },
    async () => {
      const dir = mkdtempSync(join(resolve(import.meta.dirname, "../fixtures/pool"), "deploy-"));
      try {
        const gate = join(dir, "gate");
        const version = join(dir, "version.txt");
        writeFileSync(join(dir, "app.ts"), VERSIONED_APP);
        writeFileSync(version, "1");
        writeFileSync(gate, "");
        const server = await serve([
          join(dir, "app.ts"),
          ...ANY_PORT,
          "--workers",
          "2",
          "--log-level",
          "debug",
        ]);
        await allListening(server, 2);
        rmSync(gate);
        const from = server.lines.length;
        server.child.kill("SIGHUP");
        // Both new workers read version 1 and wait at the gate: the reload is under way.
        await waitForLines(server, /^imported version 1 /, 2, from);
        // A deploy copies the next file and signals again, twice; and adds a worker.
        writeFileSync(version, "2");
        for (const count of [2, 3]) {
          server.child.kill("SIGHUP");
          await waitForLines(server, /Handling signal: hup/, count, from);
        }
        server.child.kill("SIGTTIN");
        await server.waitFor(/Handling signal: ttin \(workers: 3\)/, from);
        writeFileSync(gate, "");

        await server.waitFor(/Reload complete \(generation 3\)/, from);
        while ((await fetchReply(`${server.url}/`)).text !== "2") {
          // The old generation drains; the next answer comes from the new one.
        }
        assert.equal(await server.stop(), 0);
        const output = server.lines.join("\n");
        assert.match(output, /HUP received during a reload; another reload is queued/);
        assert.doesNotMatch(output, /generation 4/);
        // Two workers at first, two for the first reload, three for the one queued behind it.
        assert.equal(bootedPids(server.lines).length, 7);
        assert.equal(server.lines.filter((line) => /^imported version 2 /.test(line)).length, 3);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it(
    "answers the requests in flight and exits when the supervisor is killed",
    { timeout: 90_000 },
    async () => {
      for (const workers of [1, 2]) {
        const dir = mkdtempSync(join(tmpdir(), "carafe-held-"));
        try {
          const release = join(dir, "release");
          const server = await serve([
            APP,
            ...ANY_PORT,
            "--workers",
            String(workers),
            "--threads",
            "2",
            "--log-level",
            "debug",
          ]);
          // The output pipe is shared by every worker: it closes once the last one has exited.
          const outputClosed = once(server.child.stdout as NodeJS.ReadableStream, "close");
          await allListening(server, workers);
          const workerPids = bootedPids(server.lines);
          const from = server.lines.length;
          const until = `?until=${encodeURIComponent(release)}`;
          const replies = ["/held", "/held", "/held-async", "/held-async"].map((path) =>
            fetchReply(`${server.url}${path}${until}`).then(
              (reply) => `${reply.status} ${reply.text}`,
              (error: Error) => error.message,
            ),
          );
          await waitForLines(server, /^held in /, 4, from);
          server.child.kill("SIGKILL");
          await server.exited;
          writeFileSync(release, "");

          const answers = await Promise.all(replies);
          assert.ok(
            answers.every((answer) => /^200 \{"pid":\d+\}$/.test(answer)),
            `with --workers ${workers}: ${answers.join("; ")}`,
          );
          await outputClosed;
          assert.deepEqual(workerPids.filter(isRunning), [], `with --workers ${workers}`);
          await assert.rejects(fetchReply(`${server.url}/whoami`), { code: "ECONNREFUSED" });
          assert.equal(
            server.lines.filter((line) => /the supervisor is gone; draining/.test(line)).length,
            workers,
          );
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );
});
