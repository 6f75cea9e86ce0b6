import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  RELOADER_CHILD_ENV,
  ReloaderError,
  isReloaderChild,
  runWithReloader,
  shouldReload,
} from "../../src/server/dev/reloader.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const RELOADER = pathToFileURL(join(ROOT, "src/server/dev/reloader.ts")).href;
// A deadline that turns a hang into a failure with the output so far; never a synchronisation.
const DEADLINE_MS = 20_000;

/** An app that prints its pid, the value in value.json and the reloader flag, then stays up. */
function appSource(options: { onSigterm?: string } = {}): string {
  return `import { readFileSync } from "node:fs";
const { value } = JSON.parse(readFileSync(new URL("./value.json", import.meta.url), "utf8"));
// The handler is in place before the line that tells the test it may send signals.
process.on("SIGTERM", () => { ${options.onSigterm ?? "process.exit(0);"} });
console.log("child pid=" + process.pid + " value=" + value + " flag=" + process.env.${RELOADER_CHILD_ENV});
setInterval(() => {}, 1 << 30);
`;
}

// The parent runs in its own process so that real signals can be sent to it; its log lines
// and the child's output share one pipe, in the order they were written.
const DRIVER = `import { runWithReloader } from ${JSON.stringify(RELOADER)};
const dir = process.argv[2];
const code = await runWithReloader({
  command: [process.execPath, dir + "/app.mjs"],
  watch: dir,
  log: (line) => console.log(line),
  ...JSON.parse(process.env.RELOADER_TEST_OPTIONS ?? "{}"),
});
console.log("reloader resolved " + code);
process.exitCode = code;
`;

interface Run {
  driver: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: string[];
  /** Resolves with the next line (after the last one matched) that matches `pattern`. */
  next(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Lines seen so far that were matched or skipped by `next`. */
  consumed(): string[];
}

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tempProject(app = appSource()): string {
  const dir = mkdtempSync(join(tmpdir(), "carafe-reloader-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "value.json"), JSON.stringify({ value: 1 }));
  writeFileSync(join(dir, "app.mjs"), app);
  writeFileSync(join(dir, "driver.mjs"), DRIVER);
  return dir;
}

function startReloader(dir: string, options: Record<string, number> = {}): Run {
  const driver = spawn(process.execPath, ["--import", "tsx", join(dir, "driver.mjs"), dir], {
    cwd: ROOT,
    env: { ...process.env, RELOADER_TEST_OPTIONS: JSON.stringify(options) },
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const pids = new Set<number>();
  let cursor = 0;
  let waiter: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void } | null = null;

  const scan = (): void => {
    while (waiter !== null && cursor < lines.length) {
      const match = (lines[cursor++] as string).match(waiter.pattern);
      if (match !== null) {
        const { resolve: done } = waiter;
        waiter = null;
        done(match);
      }
    }
  };
  createInterface({ input: driver.stdout }).on("line", (line) => {
    const pid = /child pid=(\d+)/.exec(line)?.[1];
    if (pid !== undefined) pids.add(Number(pid));
    lines.push(line);
    scan();
  });
  driver.stderr.setEncoding("utf8").on("data", (text: string) => stderr.push(text));
  cleanups.push(() => {
    if (driver.exitCode === null && driver.signalCode === null) driver.kill("SIGKILL");
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  });

  return {
    driver,
    lines,
    stderr,
    consumed: () => lines.slice(0, cursor),
    next(pattern) {
      return new Promise((resolveMatch, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no line matched ${pattern} within ${DEADLINE_MS} ms\nstdout:\n${lines.join("\n")}\nstderr:\n${stderr.join("")}`,
            ),
          );
        }, DEADLINE_MS);
        waiter = {
          pattern,
          resolve: (match) => {
            clearTimeout(timer);
            resolveMatch(match);
          },
        };
        scan();
      });
    },
  };
}

const CHILD_LINE = /^child pid=(\d+) value=(\S+) flag=(\S+)$/;

async function nextChild(run: Run): Promise<{ pid: number; value: string; flag: string }> {
  const match = await run.next(CHILD_LINE);
  return { pid: Number(match[1]), value: match[2] as string, flag: match[3] as string };
}

describe("runWithReloader with a real child process", () => {
  it("runs the app with CARAFE_RELOADER_CHILD=1 and restarts it when a watched file changes", async () => {
    const dir = tempProject();
    const run = startReloader(dir);
    const first = await nextChild(run);
    assert.deepEqual([first.value, first.flag], ["1", "1"]);

    writeFileSync(join(dir, "value.json"), JSON.stringify({ value: 2 }));
    await run.next(/^ \* Detected change in 'value\.json', reloading$/);
    const second = await nextChild(run);
    assert.equal(second.value, "2");
    assert.notEqual(second.pid, first.pid);
    // The old child was reaped before the new one started.
    assert.equal(isAlive(first.pid), false);
  });

  it("does not restart for node_modules, dist, .git, dot-folders or unwatched extensions", async () => {
    const dir = tempProject();
    for (const folder of ["node_modules/pkg", "dist", ".git", ".cache"]) {
      mkdirSync(join(dir, folder), { recursive: true });
    }
    const run = startReloader(dir);
    await nextChild(run);

    writeFileSync(join(dir, "node_modules/pkg/index.js"), "export {};");
    writeFileSync(join(dir, "dist/app.js"), "export {};");
    writeFileSync(join(dir, ".git/index.json"), "{}");
    writeFileSync(join(dir, ".cache/x.ts"), "export {};");
    writeFileSync(join(dir, "notes.txt"), "not source");
    // Events arrive in the order the files were written: a restart for any of the above would
    // be logged before (or, in one burst, instead of) the one for value.json.
    writeFileSync(join(dir, "value.json"), JSON.stringify({ value: 2 }));
    await run.next(/Detected change/);
    const detected = run.consumed().filter((line) => line.includes("Detected change"));
    assert.deepEqual(detected, [" * Detected change in 'value.json', reloading"]);
    assert.equal((await nextChild(run)).value, "2");
  });

  it("keeps restarting after atomic saves that rename a temp file over the source", async () => {
    const dir = tempProject();
    const run = startReloader(dir);
    await nextChild(run);
    for (const value of [2, 3, 4]) {
      const temp = join(dir, ".value.json.tmp");
      writeFileSync(temp, JSON.stringify({ value }));
      renameSync(temp, join(dir, "value.json"));
      await run.next(/^ \* Detected change in 'value\.json', reloading$/);
      assert.equal((await nextChild(run)).value, String(value));
    }
  });

  it("watches a folder created after the start", async () => {
    const dir = tempProject();
    const run = startReloader(dir);
    await nextChild(run);
    mkdirSync(join(dir, "lib/deep"), { recursive: true });
    writeFileSync(join(dir, "lib/deep/util.ts"), "export const x = 1;");
    await run.next(/^ \* Detected change in 'lib\/deep\/util\.ts', reloading$/);
    await nextChild(run);
    writeFileSync(join(dir, "lib/deep/util.ts"), "export const x = 2;");
    await run.next(/^ \* Detected change in 'lib\/deep\/util\.ts', reloading$/);
    await nextChild(run);
  });

  it("waits for the next change after the app crashes, then starts it again", async () => {
    const dir = tempProject();
    const run = startReloader(dir);
    await nextChild(run);

    writeFileSync(join(dir, "app.mjs"), "export const = ;\n");
    await run.next(/^ \* Detected change in 'app\.mjs', reloading$/);
    await run.next(/^ \* The app exited with code 1; waiting for a change to restart$/);
    assert.match(run.stderr.join(""), /SyntaxError/);
    assert.equal(run.driver.exitCode, null);

    writeFileSync(join(dir, "app.mjs"), appSource());
    await run.next(/^ \* Detected change in 'app\.mjs', reloading$/);
    assert.equal((await nextChild(run)).value, "1");
  });

  it("kills an app that ignores SIGTERM after killTimeoutMs and starts the new one", async () => {
    const dir = tempProject(appSource({ onSigterm: "/* ignored */" }));
    const run = startReloader(dir, { killTimeoutMs: 200 });
    const first = await nextChild(run);
    writeFileSync(join(dir, "value.json"), JSON.stringify({ value: 2 }));
    const second = await nextChild(run);
    assert.equal(second.value, "2");
    assert.equal(isAlive(first.pid), false);
  });

  it("stops the app on SIGTERM and resolves with its exit code", async () => {
    const dir = tempProject();
    const run = startReloader(dir);
    const child = await nextChild(run);
    run.driver.kill("SIGTERM");
    await run.next(/^reloader resolved 0$/);
    const [code] = (await once(run.driver, "exit")) as [number | null];
    assert.equal(code, 0);
    assert.equal(isAlive(child.pid), false);
  });

  it("passes SIGINT on to the app and resolves with 128 + 2 when the signal ends it", async () => {
    const dir = tempProject();
    const run = startReloader(dir);
    const child = await nextChild(run);
    run.driver.kill("SIGINT");
    await run.next(/^reloader resolved 130$/);
    assert.equal(isAlive(child.pid), false);
  });
});

describe("runWithReloader's checks", () => {
  it("rejects with ERR_RELOADER_WATCH when the folder does not exist", async () => {
    await assert.rejects(
      runWithReloader({
        command: [process.execPath, "-e", "process.exit(3)"],
        watch: join(tmpdir(), "carafe-no-such-folder-for-reloader"),
        log: () => {},
      }),
      (error: unknown) => error instanceof ReloaderError && error.code === "ERR_RELOADER_WATCH",
    );
  });

  it("rejects with ERR_RELOADER_OPTIONS when the command is empty", async () => {
    await assert.rejects(
      runWithReloader({ command: [], watch: ROOT }),
      (error: unknown) => error instanceof ReloaderError && error.code === "ERR_RELOADER_OPTIONS",
    );
  });
});

describe("shouldReload", () => {
  it("reloads for source, template, style and .env files", () => {
    for (const path of [
      "app.ts",
      "src/routes/user.mts",
      "lib/x.js",
      "a.mjs",
      "b.cjs",
      "config.json",
      "templates/index.html",
      "static/site.css",
      ".env",
      ".env.local",
      "config/.env",
    ]) {
      assert.equal(shouldReload(path), true, path);
    }
  });

  it("ignores node_modules, .git, dist, dot-folders, dotfiles and other extensions", () => {
    for (const path of [
      "node_modules/pkg/index.js",
      "src/node_modules/x.ts",
      ".git/index.json",
      "dist/app.js",
      ".cache/x.ts",
      ".app.ts.swp",
      "app.ts~",
      "notes.txt",
      "4913",
    ]) {
      assert.equal(shouldReload(path), false, path);
    }
  });
});

describe("isReloaderChild", () => {
  it("is true only when CARAFE_RELOADER_CHILD is 1", () => {
    const saved = process.env[RELOADER_CHILD_ENV];
    try {
      delete process.env[RELOADER_CHILD_ENV];
      assert.equal(isReloaderChild(), false);
      process.env[RELOADER_CHILD_ENV] = "1";
      assert.equal(isReloaderChild(), true);
    } finally {
      if (saved === undefined) delete process.env[RELOADER_CHILD_ENV];
      else process.env[RELOADER_CHILD_ENV] = saved;
    }
  });
});
