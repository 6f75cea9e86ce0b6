// `carafe serve` when signals pile up or the supervisor itself is lost: real processes, real
// signals, and waits on what the server prints, never on a fixed time.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import {
  allListening,
  bootedPids,
  fetchReply,
  serveInThisFile,
  waitForLines,
} from "./serve-process.ts";

const ANY_PORT = ["--bind", "127.0.0.1:0"];

const serve = serveInThisFile();

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
});
