// `carafe init`: the project it writes, and what it refuses. That the project installs,
// type-checks, tests and serves from the packed tarball is test/integration/package.test.ts's.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { InitError, initProject, packageName } from "../../src/server/init.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const carafe = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let folder: string;
before(() => (folder = mkdtempSync(join(tmpdir(), "carafe-init-"))));
after(() => rmSync(folder, { recursive: true, force: true }));

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

/** Runs `carafe init ...args` in `cwd` as a user does: the real bin/carafe.js. */
function carafeInit(args: string[], cwd: string) {
  return spawnSync(
    process.execPath,
    ["--conditions=carafe-source", join(ROOT, "bin/carafe.js"), "init", ...args],
    { cwd, encoding: "utf8" },
  );
}

describe("initProject", () => {
  it("writes the app, its template, its test, package.json, tsconfig.json and .gitignore", () => {
    const written = initProject("new-app", folder);
    const project = join(folder, "new-app");
    assert.deepEqual(written.sort(), [
      ".gitignore",
      "app.test.ts",
      "app.ts",
      "package.json",
      "templates/index.html",
      "tsconfig.json",
    ]);
    assert.deepEqual(readdirSync(project, { recursive: true }).map(String).sort(), [
      ".gitignore",
      "app.test.ts",
      "app.ts",
      "package.json",
      "templates",
      "templates/index.html",
      "tsconfig.json",
    ]);
    assert.match(readFileSync(join(project, "app.ts"), "utf8"), /renderTemplate\("index.html"/);
    assert.match(readFileSync(join(project, "app.test.ts"), "utf8"), /app\.testClient\(\)/);
    assert.match(readFileSync(join(project, ".gitignore"), "utf8"), /^node_modules\/$/m);
  });

  it("writes a package.json for ES modules, with the scripts and the versions Carafe is tested with", () => {
    const manifest = readJson(join(folder, "new-app", "package.json"));
    assert.equal(manifest.name, "new-app");
    assert.equal(manifest.type, "module");
    assert.equal(manifest.private, true);
    assert.deepEqual(manifest.scripts, {
      start: "carafe serve app.ts:app",
      dev: "carafe run app.ts:app --debug",
      test: "node --import tsx --test *.test.ts",
      typecheck: "tsc",
    });
    assert.deepEqual(manifest.dependencies, { carafe: carafe.version });
    assert.deepEqual(manifest.devDependencies, {
      "@types/node": carafe.devDependencies["@types/node"],
      tsx: carafe.dependencies["tsx"],
      typescript: carafe.devDependencies["typescript"],
    });
  });

  it("writes a strict tsconfig.json that allows .ts imports and checks the libraries too", () => {
    const { compilerOptions } = readJson(join(folder, "new-app", "tsconfig.json")) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.equal(compilerOptions.strict, true);
    assert.equal(compilerOptions.module, "NodeNext");
    assert.equal(compilerOptions.moduleResolution, "NodeNext");
    assert.equal(compilerOptions.allowImportingTsExtensions, true);
    assert.equal(compilerOptions.noEmit, true);
    assert.equal(compilerOptions.skipLibCheck, false);
  });

  it("writes into an empty directory that already exists", () => {
    mkdirSync(join(folder, "empty"));
    assert.equal(initProject("empty", folder).length, 6);
  });

  it("refuses a directory that is not empty, and writes nothing into it", () => {
    mkdirSync(join(folder, "taken"));
    writeFileSync(join(folder, "taken", "notes.txt"), "mine");
    assert.throws(
      () => initProject("taken", folder),
      (error: InitError) =>
        error instanceof InitError &&
        error.code === "ERR_INIT_NOT_EMPTY" &&
        error.exitCode === 2 &&
        /'taken' is not empty \(it has notes\.txt\)/.test(error.message),
    );
    assert.deepEqual(readdirSync(join(folder, "taken")), ["notes.txt"]);
  });

  it("refuses a file", () => {
    writeFileSync(join(folder, "plain-file"), "");
    assert.throws(() => initProject("plain-file", folder), { code: "ERR_INIT_NOT_A_DIRECTORY" });
  });
});

describe("packageName", () => {
  it("makes an npm package name of a directory's name", () => {
    assert.equal(packageName("My App"), "my-app");
    assert.equal(packageName("blog_2.0"), "blog_2.0");
    assert.equal(packageName(".hidden!"), "hidden");
    assert.equal(packageName("ünïcode"), "n-code");
    assert.equal(packageName("???"), "app");
  });
});

describe("carafe init", { timeout: 60_000 }, () => {
  it("writes the project into DIR and says what to run next", () => {
    const run = carafeInit(["cli app"], folder);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Wrote a Carafe project into cli app: package\.json/);
    assert.match(run.stdout, /cd 'cli app'\n {2}npm install\n {2}npm test/);
    assert.equal(readJson(join(folder, "cli app", "package.json")).name, "cli-app");
  });

  it("writes into the current directory when no DIR is given", () => {
    mkdirSync(join(folder, "here"));
    const run = carafeInit([], join(folder, "here"));
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /cd /);
    assert.equal(readJson(join(folder, "here", "package.json")).name, "here");
  });

  it("exits with 2 and says why for a directory that is not empty", () => {
    const run = carafeInit(["cli app"], folder);
    assert.equal(run.status, 2);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /^carafe init: 'cli app' is not empty \(it has \.gitignore, app\.test\.ts, app\.ts, …\); carafe init writes only into a new or empty directory/,
    );
  });

  it("exits with 2 for two directories or an unknown option, and prints its help", () => {
    assert.equal(carafeInit(["a", "b"], folder).status, 2);
    assert.match(carafeInit(["--force"], folder).stderr, /Unknown option '--force'/);
    const help = carafeInit(["--help"], folder);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: carafe init \[DIR\]/);
    assert.deepEqual(readdirSync(folder).includes("a"), false);
  });
});
