// Carafe as users get it, step by step as a new user takes them: `npm pack`, then outside the
// repository `npm install` of the tarball, `npx carafe init`, the new project's `npm install`,
// `npm test`, `npm run typecheck` (strict, skipLibCheck false), `npm start` answering a
// request, and `carafe serve --workers 2 --threads 4` answering too. Prints how long each step
// took; exits 1 at the first that fails. CI runs it after `npm test`:
//
//   node --import tsx scripts/check-package.ts
//
// test/integration/package.test.ts runs the same steps. The tarball is packed from a copy of
// the package's files, so the working tree's dist/ is never rebuilt under a test or a
// benchmark that is using it. Installs prefer npm's cache, so a machine that has run
// `npm install` here needs the registry for nothing.

import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { pathToFileURL } from "node:url";

export const ROOT = resolve(import.meta.dirname, "..");

interface Manifest {
  name: string;
  version: string;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}

/** The package.json in `folder` (the repository's by default). */
export function manifest(folder = ROOT): Manifest {
  return JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as Manifest;
}

/**
 * The environment of a new user's shell: none of the npm_* variables an outer `npm test` sets,
 * nor the one by which node:test tells a test's child processes not to run tests of their own.
 */
function userEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || name === "INIT_CWD" || name === "NODE_TEST_CONTEXT") continue;
    env[name] = value;
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

/** npm install, from the cache when it can, without the audit and funding messages. */
const INSTALL = ["install", "--prefer-offline", "--no-audit", "--no-fund"];

/**
 * Packs Carafe into `folder` and returns the tarball's path. The package's files (its
 * `files`, without dist/) are copied to `folder/source`, where `npm pack` builds dist/ afresh.
 */
export function packCarafe(folder: string): string {
  const { name, version, files } = manifest();
  const source = join(folder, "source");
  mkdirSync(source, { recursive: true });
  const copied = files.filter((entry) => !entry.startsWith("!") && entry !== "dist");
  const configs = ["tsconfig.json", "tsconfig.build.json", "tsconfig.types.json"];
  for (const entry of [...copied, "package.json", ...configs]) {
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

/** A server a step started, in a process group of its own. */
interface Server {
  url: string;
  output: () => string;
  /** Sends TERM to the whole group and resolves with the first process's exit code. */
  stop: () => Promise<number | null>;
}

/** Starts `command ...args` in `cwd` and resolves once it prints `Listening at: URL`. */
function startServer(command: string, args: readonly string[], cwd: string): Promise<Server> {
  // Its own process group: npm, the shell it starts and carafe's workers stop together.
  const child = spawn(command, args, {
    cwd,
    env: userEnvironment(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const stop = async (): Promise<number | null> => {
    try {
      process.kill(-(child.pid as number), "SIGTERM");
    } catch {
      // Already gone.
    }
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`'${[command, ...args].join(" ")}' did not listen in 60 s:\n${output}`));
    }, 60_000);
    const read = (text: string): void => {
      output += text;
      const listening = /Listening at: (\S+)/.exec(output);
      if (listening === null) return;
      clearTimeout(timer);
      resolve({ url: listening[1] as string, output: () => output, stop });
    };
    child.stdout.setEncoding("utf8").on("data", read);
    child.stderr.setEncoding("utf8").on("data", read);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`'${[command, ...args].join(" ")}' exited (${code}):\n${output}`));
    });
  });
}

/** GETs `url` and returns its status and text. */
async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** Checks the new project's two routes on a running server. */
async function answersRoutes(server: Server): Promise<void> {
  const index = await get(`${server.url}/`);
  expect(
    index.status === 200 && index.text.includes("<h1>Hello, World!</h1>"),
    `GET / answered ${index.status}: ${index.text}\n${server.output()}`,
  );
  const hello = await get(`${server.url}/hello/Ada`);
  expect(
    hello.status === 200 && hello.text === '{"greeting":"Hello, Ada!"}',
    `GET /hello/Ada answered ${hello.status}: ${hello.text}\n${server.output()}`,
  );
}

/** Serves the project with `command ...args`, checks its routes, stops it with TERM. */
async function serveAndStop(command: string, args: string[], cwd: string): Promise<string> {
  const server = await startServer(command, args, cwd);
  try {
    await answersRoutes(server);
  } finally {
    const code = await server.stop();
    expect(code === 0 || code === null, `the server exited with ${code}:\n${server.output()}`);
  }
  return server.output();
}

/** One step of the journey: what a user runs, and its check. */
export interface Step {
  name: string;
  run: () => unknown;
}

/** Where the steps work: the tarball, and the folders of the scratch project and the app. */
export interface Journey {
  folder: string;
  tarball: string;
  scratch: string;
  project: string;
}

/** A journey in `folder`: nothing exists yet; the steps create it all. */
export function journeyIn(folder: string): Journey {
  return {
    folder,
    tarball: join(folder, `${manifest().name}-${manifest().version}.tgz`),
    scratch: join(folder, "scratch"),
    project: join(folder, "my-app"),
  };
}

/** The steps a new user takes, from `npm pack` to a served app. */
export function steps(journey: Journey): Step[] {
  const { folder, tarball, scratch, project } = journey;
  return [
    { name: "npm pack", run: () => packCarafe(folder) },
    {
      name: "npm install <tarball> (a new project)",
      run: () => {
        mkdirSync(scratch);
        run("npm", ["init", "-y"], scratch);
        run("npm", [...INSTALL, tarball], scratch);
      },
    },
    {
      name: "npx carafe init",
      run: () => {
        const said = run("npx", ["carafe", "init", "../my-app"], scratch);
        expect(/Wrote a Carafe project/.test(said), `carafe init said:\n${said}`);
      },
    },
    {
      // The project names carafe by version; until the registry has it, the tarball is it.
      name: "npm install (the project, with the tarball)",
      run: () => run("npm", [...INSTALL, tarball], project),
    },
    {
      name: "npm test",
      run: () => {
        const said = run("npm", ["test"], project);
        expect(/(# |ℹ )pass 2\b/.test(said), `npm test did not pass its 2 tests:\n${said}`);
      },
    },
    { name: "npm run typecheck", run: () => run("npm", ["run", "typecheck"], project) },
    {
      name: "npm start, GET / and /hello/Ada",
      run: () => serveAndStop("npm", ["start", "--", "--bind", "127.0.0.1:0"], project),
    },
    {
      name: "npx carafe serve app.ts:app --workers 2 --threads 4",
      run: async () => {
        const args = ["carafe", "serve", "app.ts:app", "--workers", "2", "--threads", "4"];
        const said = await serveAndStop("npx", [...args, "--bind", "127.0.0.1:0"], project);
        expect(
          /2 worker processes × 4 threads/.test(said),
          `carafe serve did not say it runs 2 workers × 4 threads:\n${said}`,
        );
      },
    },
  ];
}

async function main(): Promise<number> {
  const folder = mkdtempSync(join(tmpdir(), "carafe-package-"));
  const timings: [string, number][] = [];
  try {
    for (const step of steps(journeyIn(folder))) {
      const started = performance.now();
      await step.run();
      const seconds = (performance.now() - started) / 1000;
      timings.push([step.name, seconds]);
      console.log(`ok  ${seconds.toFixed(1).padStart(5)} s  ${step.name}`);
    }
    const total = timings.reduce((sum, [, seconds]) => sum + seconds, 0);
    console.log(`package check passed in ${total.toFixed(1)} s`);
    return 0;
  } catch (error) {
    console.error(`package check failed: ${(error as Error).message}`);
    return 1;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.exitCode = await main();
