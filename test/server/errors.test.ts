import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/server/cli.ts";
import { ServerError } from "../../src/server/errors.ts";
import { ProxyTrustError, createProxyTrust } from "../../src/server/http/proxy.ts";
import { FetchAppError, fromFetchApp } from "../../src/server/loading/fetch-app.ts";
import { AppLoadError, loadApp } from "../../src/server/loading/load-app.ts";
import { ReloaderError, runWithReloader } from "../../src/server/dev/reloader.ts";
import { SettingsError, resolveSettings } from "../../src/server/settings.ts";
import { BroadcastUrlError, connectBroadcasts } from "../../src/server/worker/broadcast-relay.ts";
import { newApp } from "../helpers.ts";

/** Asserts that `error` is a ServerError of class `type` with the stable `code`. */
function assertServerError(
  error: unknown,
  type: abstract new (...args: never[]) => Error,
  code: string,
): true {
  assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
  assert.ok(error instanceof ServerError, `${type.name} does not extend ServerError`);
  assert.equal(error.code, code);
  assert.equal(error.name, type.name);
  return true;
}

describe("server errors", () => {
  it("are ServerErrors with a stable code each", async () => {
    assert.throws(
      () => createProxyTrust(["not an address"]),
      (error) => assertServerError(error, ProxyTrustError, "ERR_BAD_PROXY_ADDRESS"),
    );
    assert.throws(
      () => fromFetchApp({} as never),
      (error) => assertServerError(error, FetchAppError, "ERR_NOT_A_FETCH_APP"),
    );
    await assert.rejects(loadApp("test/fixtures/no-such-app.ts"), (error) =>
      assertServerError(error, AppLoadError, "ERR_APP_LOAD"),
    );
    await assert.rejects(
      resolveSettings({ argv: ["app.ts", "--workers", "many"], env: {}, cwd: process.cwd() }),
      (error) => assertServerError(error, SettingsError, "ERR_SETTINGS"),
    );
    await assert.rejects(runWithReloader({ command: [] } as never), (error) =>
      assertServerError(error, ReloaderError, "ERR_RELOADER_OPTIONS"),
    );
    const app = newApp();
    app.config.broadcastUrl = "http://localhost:6379";
    await assert.rejects(connectBroadcasts(app.broadcasting, null, { warn: () => {} }), (error) =>
      assertServerError(error, BroadcastUrlError, "ERR_BROADCAST_URL"),
    );
  });
});

describe("the command line", () => {
  /** Runs `carafe …args` in this process; returns its exit code and what it wrote to stderr. */
  async function run(args: string[]): Promise<{ code: number; stderr: string }> {
    const written: string[] = [];
    const original = console.error;
    console.error = (...parts: unknown[]) => void written.push(parts.map(String).join(" "));
    const exitCode = process.exitCode;
    try {
      return { code: await main(args), stderr: written.join("\n") };
    } finally {
      console.error = original;
      // `carafe run` reports its failure through process.exitCode as well; this process is
      // the test runner's, whose exit code must stay its own.
      process.exitCode = exitCode;
    }
  }

  it("prints a ServerError's message without a stack", async () => {
    const { code, stderr } = await run([
      "run",
      "test/fixtures/cli/bad-broadcast.ts",
      "--port",
      "0",
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /^carafe: app\.config\.broadcastUrl must be a redis:\/\//);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it("points a usage error to --help", async () => {
    const { code, stderr } = await run(["frobnicate"]);
    assert.equal(code, 2);
    assert.match(stderr, /^carafe: unknown command 'frobnicate'; carafe's commands are /);
    assert.match(stderr, /carafe --app app\.ts frobnicate/);
    assert.match(stderr, /\nRun 'carafe --help' for usage\.$/);
  });
});
