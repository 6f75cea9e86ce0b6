// Carafe as users get it: the tarball `npm pack` writes, installed into a new project outside
// the repository. The tarball is packed from a copy of the package's files, so the working
// tree's dist/ is never rebuilt under a test or a benchmark that is using it.
// test/integration/package.test.ts runs these steps.

import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";

export const ROOT = resolve(import.meta.dirname, "..");

interface Manifest {
  name: string;
  version: string;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}

/** The repository's package.json. */
export function manifest(folder = ROOT): Manifest {
  return JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as Manifest;
}

/** The environment of a new user's shell: none of the npm_* variables an outer `npm test` sets. */
function userEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== "INIT_CWD") env[name] = value;
  }
  return env;
}

/** Runs `command ...args` in `cwd`; returns what it printed, or throws with all of it. */
export function run(command: string, args: readonly string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, env: userEnvironment(), encoding: "utf8" });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) {
    const how = result.error?.message ?? `exit code ${String(result.status ?? result.signal)}`;
    throw new Error(`'${[command, ...args].join(" ")}' in ${cwd} failed (${how}):\n${output}`);
  }
  return output;
}

/**
 * Packs Carafe into `folder` and returns the tarball's path. The package's files (its
 * `files`, without dist/) are copied to `folder/source`, where `npm pack` builds dist/ afresh.
 */
export function packCarafe(folder: string): string {
  const { name, version, files } = manifest();
  const source = join(folder, "source");
  mkdirSync(source, { recursive: true });
  const copied = files.filter((entry) => !entry.startsWith("!") && entry !== "dist");
  for (const entry of [...copied, "package.json", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(source, "node_modules"), "dir");
  run("npm", ["pack", "--pack-destination", folder], source);
  return join(folder, `${name}-${version}.tgz`);
}

/** Unpacks `tarball` into `folder`; returns the package's folder in it. */
export function unpack(tarball: string, folder: string): string {
  mkdirSync(folder, { recursive: true });
  run("tar", ["-xzf", tarball, "-C", folder], folder);
  return join(folder, "package");
}
