// `carafe init [DIR]`: a new project, ready for `npm install && npm test && npm start`. It
// writes the files a Carafe app needs and a new user would otherwise have to guess: a
// package.json for ES modules with the scripts, a tsconfig.json that allows `./db.ts` imports
// and checks strictly (Carafe's declarations included), an app with a route and a template, a
// test through the test client, and a .gitignore. The tools it pins are the versions Carafe
// itself is built and tested with.

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { ServerError } from "./errors.ts";

/** Why `carafe init` wrote nothing; `exitCode` is 2 for a command line to fix, 1 otherwise. */
export class InitError extends ServerError {
  override name = "InitError";
  constructor(
    code: string,
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(code, message);
  }
}

const HELP = `Usage: carafe init [DIR]

Writes a new Carafe project into DIR (default: the current directory), which must be empty or
not exist yet: package.json, tsconfig.json, app.ts with a route and templates/index.html, a test
(app.test.ts) and .gitignore. Then: npm install && npm test && npm run dev.

Options:
  -h, --help  Show this help
`;

interface CarafeManifest {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

function carafeManifest(): CarafeManifest {
  const file = new URL("../../package.json", import.meta.url);
  return JSON.parse(readFileSync(file, "utf8")) as CarafeManifest;
}

/** An npm package name made from a folder's name: `My App` → `my-app`. */
export function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._-]+|-+$/g, "");
  return name === "" ? "app" : name;
}

function packageJson(name: string): string {
  const carafe = carafeManifest();
  const pinned = (from: Record<string, string>, tool: string): string => {
    const version = from[tool];
    if (version === undefined) {
      throw new InitError(
        "ERR_INIT_MANIFEST",
        `Carafe's package.json does not name the version of ${tool} it is tested with; reinstall Carafe`,
        1,
      );
    }
    return version;
  };
  const manifest = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      start: "carafe serve app.ts:app",
      dev: "carafe run app.ts:app --debug",
      test: "node --import tsx --test *.test.ts",
      typecheck: "tsc",
    },
    dependencies: { carafe: carafe.version },
    devDependencies: {
      "@types/node": pinned(carafe.devDependencies, "@types/node"),
      tsx: pinned(carafe.dependencies, "tsx"),
      typescript: pinned(carafe.devDependencies, "typescript"),
    },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

const TSCONFIG = {
  compilerOptions: {
    target: "ES2023",
    lib: ["ES2023"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    // tsx runs the .ts files as they are: imports name them (`./db.ts`), and nothing is emitted.
    allowImportingTsExtensions: true,
    noEmit: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    skipLibCheck: false,
    forceConsistentCasingInFileNames: true,
  },
  include: ["**/*.ts"],
};

const APP = `// The app. \`npm run dev\` serves it on http://127.0.0.1:5000 and restarts it when a file
// changes; \`npm start\` serves it in production form (carafe serve --help lists the options).
import { Carafe, renderTemplate } from "carafe";

export const app = new Carafe();

app.get("/", function index() {
  return renderTemplate("index.html", { name: "World" });
});

app.get("/hello/<name>", function hello(req) {
  return { greeting: \`Hello, \${req.params.name}!\` };
});
`;

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Hello, {{ name }}</title>
  </head>
  <body>
    <h1>Hello, {{ name }}!</h1>
    <p><a href="{{ url_for('hello', name='Carafe') }}">Say hello to Carafe</a></p>
  </body>
</html>
`;

const APP_TEST = `// The app's tests: requests through the test client, no server or socket.
// \`npm test\` runs every *.test.ts file here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { app } from "./app.ts";

const client = app.testClient();

test("the index page renders its template", async () => {
  const response = await client.get("/");
  assert.equal(response.status, 200);
  assert.match(response.text(), /<h1>Hello, World!<\\/h1>/);
  assert.match(response.text(), /href="\\/hello\\/Carafe"/);
});

test("/hello/<name> answers with JSON", async () => {
  const response = await client.get("/hello/Ada");
  assert.equal(response.status, 200);
  assert.deepEqual(response.json(), { greeting: "Hello, Ada!" });
});
`;

const GITIGNORE = `node_modules/
*.log
.env
instance/
`;

/** The files of a new project, by path relative to its folder. */
export function projectFiles(name: string): ReadonlyMap<string, string> {
  return new Map([
    ["package.json", packageJson(name)],
    ["tsconfig.json", `${JSON.stringify(TSCONFIG, null, 2)}\n`],
    ["app.ts", APP],
    ["templates/index.html", INDEX_HTML],
    ["app.test.ts", APP_TEST],
    [".gitignore", GITIGNORE],
  ]);
}

/** What is in `folder`, or `null` when it does not exist; refuses a file. */
function entriesOf(folder: string, given: string): string[] | null {
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (!isFolder) {
    throw new InitError(
      "ERR_INIT_NOT_A_DIRECTORY",
      `'${given}' is a file; name a new or empty directory for the project, e.g. carafe init my-app`,
      2,
    );
  }
  return readdirSync(folder);
}

/**
 * Writes a new project into `folder` (created when missing; it must be empty) and returns the
 * paths written.
 *
 * @example
 * initProject("my-app"); // my-app/package.json, my-app/app.ts, …
 */
export function initProject(folder: string, cwd = process.cwd()): string[] {
  const target = resolve(cwd, folder);
  const entries = entriesOf(target, folder);
  if (entries !== null && entries.length > 0) {
    const shown = entries.slice(0, 3).join(", ") + (entries.length > 3 ? ", …" : "");
    throw new InitError(
      "ERR_INIT_NOT_EMPTY",
      `'${folder}' is not empty (it has ${shown}); carafe init writes only into a new or empty directory, e.g. carafe init my-app`,
      2,
    );
  }
  const files = projectFiles(packageName(basename(target)));
  for (const [path, text] of files) {
    const file = join(target, path);
    try {
      mkdirSync(dirname(file), { recursive: true });
      // "wx": never overwrite a file that appeared since the folder was found empty.
      writeFileSync(file, text, { flag: "wx" });
    } catch (error) {
      throw new InitError(
        "ERR_INIT_WRITE",
        `could not write ${join(folder, path)}: ${(error as Error).message}`,
        1,
      );
    }
  }
  return [...files.keys()];
}

function readArguments(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new InitError("ERR_USAGE", (error as Error).message, 2);
  }
}

/** `carafe init [DIR]`: writes the project and says what to run next; returns the exit code. */
export function initCommand(argv: readonly string[]): number {
  try {
    const parsed = readArguments(argv);
    if (parsed.values.help === true) {
      console.log(HELP.trimEnd());
      return 0;
    }
    const [folder = ".", ...extra] = parsed.positionals;
    if (extra.length > 0) {
      throw new InitError(
        "ERR_USAGE",
        `init takes one directory, got '${folder}' and '${extra.join("', '")}'`,
        2,
      );
    }
    const written = initProject(folder);
    const quoted = /^[\w@%+=:,./-]+$/.test(folder) ? folder : `'${folder.replace(/'/g, "'\\''")}'`;
    const cd = folder === "." ? "" : `  cd ${quoted}\n`;
    console.log(`Wrote a Carafe project into ${folder}: ${written.join(", ")}

Next:
${cd}  npm install
  npm test           # the tests in app.test.ts, through the test client
  npm run typecheck  # tsc, strict
  npm run dev        # http://127.0.0.1:5000, restarted when a file changes
  npm start          # carafe serve: production form, http://127.0.0.1:8000`);
    return 0;
  } catch (error) {
    if (!(error instanceof InitError)) throw error;
    console.error(
      `carafe init: ${error.message}${error.exitCode === 2 ? "\nRun 'carafe init --help' for usage." : ""}`,
    );
    return error.exitCode;
  }
}
