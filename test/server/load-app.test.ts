// Loading the app a spec names: an export, a factory call with literal arguments, and Flask's
// discovery when no export is named.
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import type { ServableApp } from "carafe";
import {
  AppLoadError,
  findDefaultModule,
  loadApp,
  moduleCandidates,
  parseAppSpec,
  resolveAppModule,
} from "../../src/server/loading/load-app.ts";
import { getRecord } from "../helpers.ts";

const FACTORY = "test/fixtures/factories/factory.ts";

async function infoOf(app: ServableApp): Promise<Record<string, unknown>> {
  const record = await app.handle(getRecord("/info"));
  return JSON.parse(String(record.body)) as Record<string, unknown>;
}

function loadError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AppLoadError, `expected an AppLoadError, got ${String(error)}`);
    assert.equal(error.code, "ERR_APP_LOAD");
    assert.match(error.message, pattern);
    return true;
  };
}

describe("parseAppSpec", () => {
  it("splits the module from an export, and reads a call's literal arguments", () => {
    assert.deepEqual(parseAppSpec("app.ts"), {
      modulePath: "app.ts",
      exportName: undefined,
      args: undefined,
    });
    assert.deepEqual(parseAppSpec("src/app.ts:api"), {
      modulePath: "src/app.ts",
      exportName: "api",
      args: undefined,
    });
    assert.deepEqual(parseAppSpec("app.ts:createApp()"), {
      modulePath: "app.ts",
      exportName: "createApp",
      args: [],
    });
    assert.deepEqual(parseAppSpec(`app.ts:createApp('x', 2, true, null)`).args, [
      "x",
      2,
      true,
      null,
    ]);
    assert.deepEqual(
      parseAppSpec(
        `app.ts:createApp( "a:b)", -1.5e3 , false, 'it\\'s', "\\u00e9\\n", 0x1F, 1_000, )`,
      ).args,
      ["a:b)", -1500, false, "it's", "é\n", 31, 1000],
    );
  });

  it("keeps a Windows drive letter and a colon in a folder name in the module path", () => {
    assert.deepEqual(parseAppSpec("C:\\app.ts:app"), {
      modulePath: "C:\\app.ts",
      exportName: "app",
      args: undefined,
    });
    assert.equal(parseAppSpec("dir:x/app.ts:createApp('y')").modulePath, "dir:x/app.ts");
  });

  it("reads gunicorn's module:app, a one-letter module included", () => {
    assert.deepEqual(parseAppSpec("app:app"), {
      modulePath: "app",
      exportName: "app",
      args: undefined,
    });
    assert.equal(parseAppSpec("pkg.module:createApp('x')").modulePath, "pkg.module");
    assert.equal(parseAppSpec("a:app").modulePath, "a");
  });

  it("refuses what is not a literal, naming the spec and the problem, and never evaluates it", () => {
    const refused: [string, RegExp][] = [
      ["app.ts:createApp(process.exit(1))", /'process\.exit\(1\)' is not a literal/],
      ["app.ts:createApp(config='dev')", /'config='dev'' is a keyword argument/],
      ["app.ts:createApp('dev)", /the string starting ' is not closed/],
      ["app.ts:createApp(1 2)", /expected ',' between arguments/],
      ["app.ts:createApp(1,,2)", /an argument is missing/],
      ["app.ts:createApp('x'", /must close with '\)'/],
      ["app.ts:createApp(`x`)", /'`x`' is not a literal/],
    ];
    for (const [spec, problem] of refused) {
      assert.throws(
        () => parseAppSpec(spec),
        (error) => loadError(problem)(error) && (error as Error).message.includes(`'${spec}'`),
        spec,
      );
    }
  });
});

describe("loadApp", () => {
  it("calls a named factory with the spec's arguments", async () => {
    const app = await loadApp(`${FACTORY}:createApp('dev', 3, true, null)`);
    assert.deepEqual(
      { ...(await infoOf(app)), threadId: undefined, pid: undefined, made: undefined },
      {
        name: "dev",
        count: 3,
        flag: true,
        extra: null,
        threadId: undefined,
        pid: undefined,
        made: undefined,
      },
    );
  });

  it("calls a factory named without a call, as Flask does, and awaits an async one", async () => {
    assert.equal((await infoOf(await loadApp(`${FACTORY}:createApp`))).name, "made");
    assert.equal((await infoOf(await loadApp(`${FACTORY}:createAppLater('later')`))).name, "later");
  });

  it("finds createApp, then makeApp, when no export is named and no app is exported", async () => {
    assert.equal((await loadApp(FACTORY)).name, "made");
    assert.equal((await loadApp("test/fixtures/factories/make-app.ts")).name, "from makeApp");
  });

  it("finds the one app a module exports under another name, and refuses to guess among several", async () => {
    assert.equal((await loadApp("test/fixtures/factories/one-app.ts")).name, "api");
    await assert.rejects(
      loadApp("test/fixtures/factories/two-apps.ts"),
      loadError(
        /exports several apps \(admin, site\); name one, e\.g\. test\/fixtures\/factories\/two-apps\.ts:admin/,
      ),
    );
  });

  it("takes the app whose run() the module calls before any export, as running the module serves it", async () => {
    assert.equal((await loadApp("test/fixtures/factories/runs-other.ts")).name, "served by run()");
    assert.equal((await loadApp("test/fixtures/factories/runs-other.ts:app")).name, "exported");
  });

  it("explains a factory that fails, returns no app, or is not a function", async () => {
    await assert.rejects(
      loadApp("test/fixtures/factories/needs-args.ts"),
      loadError(
        /calling createApp\(\) of '.*needs-args\.ts' failed:\nError: a mode is needed[\s\S]*called it without arguments; if it needs some, name them: .*needs-args\.ts:createApp\('dev'\)/,
      ),
    );
    await assert.rejects(
      loadApp(`${FACTORY}:makeNothing()`),
      loadError(/makeNothing\(\) of '.*factory\.ts' returned an object \(Object\), not an app/),
    );
    await assert.rejects(
      loadApp(`${FACTORY}:notAFunction()`),
      loadError(
        /exports 'notAFunction', but it is a number, not a function to call as notAFunction\(\)/,
      ),
    );
    await assert.rejects(
      loadApp(`${FACTORY}:missing('x')`),
      loadError(/has no export named 'missing' to call \(its exports: .*createApp/),
    );
    await assert.rejects(
      loadApp(`${FACTORY}:needsMode`),
      loadError(/calling needsMode\(\) .* failed:\nError: createApp needs a mode/),
    );
  });

  it("names the factories it looked for when a module has no app at all", async () => {
    await assert.rejects(
      loadApp("test/fixtures/threading/work.ts"),
      loadError(
        /exports no app named app, application, default and no factory named createApp or makeApp .*:createApp\(\)/,
      ),
    );
  });
});

describe("resolveAppModule", () => {
  const NAMING = resolve(import.meta.dirname, "../fixtures/naming");

  it("tries a module name with .ts, .mts, .js and .mjs, then as a folder's index, and a dotted name as folders", () => {
    const extensions = [".ts", ".mts", ".js", ".mjs"];
    const tried = (stem: string): string[] => [
      ...extensions.map((extension) => `${stem}${extension}`),
      ...extensions.map((extension) => `${stem}/index${extension}`),
    ];
    assert.deepEqual(moduleCandidates("app"), tried("app"));
    assert.deepEqual(moduleCandidates("pkg.module"), tried("pkg/module"));
    assert.deepEqual(moduleCandidates("src/app"), tried("src/app"));
    assert.deepEqual(moduleCandidates("src/app").slice(0, 5), [
      "src/app.ts",
      "src/app.mts",
      "src/app.js",
      "src/app.mjs",
      "src/app/index.ts",
    ]);
    // A file name and a path with a dot in a folder are what they say.
    assert.deepEqual(moduleCandidates("app.ts"), ["app.ts"]);
    assert.deepEqual(moduleCandidates("v1.2/app.mjs"), ["v1.2/app.mjs"]);
    assert.deepEqual(moduleCandidates(".hidden"), tried(".hidden"));
  });

  it("finds the first file that exists, from the folder given", () => {
    assert.equal(resolveAppModule("app", NAMING), join(NAMING, "app.ts"));
    assert.equal(resolveAppModule("pkg.module", NAMING), join(NAMING, "pkg/module.ts"));
    assert.equal(resolveAppModule("pkg/module", NAMING), join(NAMING, "pkg/module.ts"));
    assert.equal(resolveAppModule("js-only/app", NAMING), join(NAMING, "js-only/app.mjs"));
    assert.equal(resolveAppModule("wsgi.ts", NAMING), join(NAMING, "wsgi.ts"));
    // A folder is its index module, as a Python package is its __init__.py.
    assert.equal(resolveAppModule("pkg", NAMING), join(NAMING, "pkg/index.ts"));
  });

  it("says which files it looked for when none exists, in one line", () => {
    assert.throws(
      () => resolveAppModule("missing", NAMING),
      loadError(
        /^cannot find the app module 'missing': looked for missing\.ts, \.mts, \.js, \.mjs, missing\/index\.ts, \.mts, \.js, \.mjs in .*naming$/,
      ),
    );
    assert.throws(
      () => resolveAppModule("pkg.other", NAMING),
      loadError(/looked for pkg\/other\.ts, \.mts, \.js, \.mjs, pkg\/other\/index\.ts, .* in/),
    );
    assert.throws(
      () => resolveAppModule("missing.ts", NAMING),
      loadError(/^cannot find the app module 'missing\.ts' \(looked at .*naming\/missing\.ts\)$/),
    );
    // A folder without an index module is not a module.
    assert.throws(
      () => resolveAppModule("js-only", NAMING),
      loadError(/js-only\/index\.ts, \.mts, \.js, \.mjs in/),
    );
  });

  it("finds wsgi before app, each with its extensions, as flask run does", () => {
    const dir = mkdtempSync(join(tmpdir(), "carafe-naming-"));
    try {
      assert.equal(findDefaultModule(dir), undefined);
      writeFileSync(join(dir, "app.mjs"), "");
      assert.equal(findDefaultModule(dir), "app.mjs");
      writeFileSync(join(dir, "app.js"), "");
      assert.equal(findDefaultModule(dir), "app.js");
      writeFileSync(join(dir, "wsgi.mjs"), "");
      assert.equal(findDefaultModule(dir), "wsgi.mjs");
      mkdirSync(join(dir, "wsgi.ts"));
      assert.equal(findDefaultModule(dir), "wsgi.mjs", "a folder is not a module");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
