// The `carafe` command: `carafe serve` (supervisor, worker processes and threads, as gunicorn),
// `carafe run` (the development server), `carafe routes` (the URL map with where each route
// runs), and the app's own commands (`app.cli.command`), as `flask --app app NAME` runs them.
// The app is named after the built-in command, or before any command with --app (or by
// CARAFE_APP), or else found in the current directory as `flask run` finds it. In a worker
// process forked by `serve`, the same command line lands here again and becomes that worker.

import { readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import type { AppCommands, RouteListing, ServableApp } from "../framework/internal.ts";
import { ServerError } from "./errors.ts";
import {
  AppLoadError,
  DEFAULT_MODULES,
  findDefaultModule,
  listCandidates,
  moduleCandidates,
} from "./loading/app-spec.ts";
import { serve, workerOptions } from "./serve.ts";
import {
  SettingsError,
  isHelpRequest,
  resolveSettings,
  serveHelp,
  type NamedApp,
} from "./settings.ts";

/** Imports the app; only the commands that need it load it, and the framework with it. */
async function loadApp(spec: string): Promise<ServableApp> {
  return (await import("./loading/load-app.ts")).loadApp(spec);
}

const BUILT_IN: readonly (readonly [string, string])[] = [
  ["serve", "Serve the app in production: worker processes × threads"],
  ["run", "Serve the app with the development server"],
  ["routes", "List the app's routes: endpoint, methods, rule, where it runs"],
  ["init", "Write a new project into a directory: app, template, test, tsconfig"],
];

const USAGE = `Usage: carafe [--app MODULE[:EXPORT]] COMMAND [ARGS]...

Commands:
  serve [MODULE[:EXPORT]]   Serve the app in production: worker processes × threads
  run [MODULE[:EXPORT]]     Serve the app with the development server
  routes [MODULE[:EXPORT]]  List the app's routes: endpoint, methods, rule, where it runs
  init [DIR]                Write a new project into DIR: app, template, test, tsconfig
  NAME [ARGS]...            Run one of the app's own commands (app.cli.command)

The app is named after serve, run or routes, or before any command with --app, or by the
CARAFE_APP environment variable; else run, routes and the app's commands take wsgi.ts or
app.ts (.mts, .js, .mjs) from the current directory. 'carafe --help' lists the commands of the
app named or found, and 'carafe NAME --help' shows one's arguments and options.

MODULE is a file (app.ts, src/app.js) or a module name: app is app.ts, app.mts, app.js or
app.mjs, the first that exists, and pkg.module is pkg/module.ts and so on, as gunicorn reads
it. EXPORT defaults to app, application or default, else a createApp or makeApp factory is
called. MODULE:createApp('dev', 2) calls a factory with literal arguments (strings, numbers,
true, false, null).
The app is a Carafe app or any object with a fetch(Request) method (a Hono app, say).
'carafe serve --help' lists the options of serve.

Options:
  -A, --app MODULE[:EXPORT] The app (default: $CARAFE_APP)
  -h, --help               Show this help (with the app's commands when the app is named)
  -v, --version            Show the version

Options of run:
  -H, --host HOST          Interface to listen on (default 127.0.0.1)
  -p, --port PORT          Port to listen on (default 5000)
      --threaded           Run synchronous handlers on a pool of worker threads
      --threads N          Size of that pool (default: the number of cores)
      --thread-max-heap MB Largest JS heap of each pool thread (default: as carafe serve's)
      --reload             Restart when a source file changes
      --debug              Debug mode: stack traces for loopback clients, and --reload
`;

function version(): string {
  const file = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/** Thrown for a command line the user has to fix; printed with the usage hint. */
/** A command line Carafe cannot act on; the CLI prints it with a pointer to `--help`. */
class UsageError extends ServerError {
  override name = "UsageError";
  constructor(message: string) {
    super("ERR_USAGE", message);
  }
}

function parseCount(text: string | undefined, flag: string, min: number, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > 65535) {
    throw new UsageError(`${flag} must be a whole number from ${min} to 65535, got '${text}'`);
  }
  return value;
}

/** Where a route's requests run, as their plans place them with and without `--threads`. */
function runsOn(route: RouteListing): string {
  if (route.websocket) return "loop (websocket)";
  if (route.withoutThreads === route.withThreads) return route.withThreads;
  return `${route.withoutThreads} (${route.withThreads} with --threads)`;
}

/** The table `carafe routes` prints: endpoint, methods, rule, where it runs. */
function routeRows(app: ServableApp): string[][] {
  if (app.listRoutes === undefined) throw new UsageError("routes needs a Carafe app");
  return app.listRoutes().map((route) => [
    route.endpoint,
    route.websocket
      ? "WEBSOCKET"
      : route.methods
          .filter((m) => m !== "HEAD")
          .sort()
          .join(","),
    route.rule,
    runsOn(route),
  ]);
}

function printRoutes(app: ServableApp): void {
  const rows = routeRows(app);
  const header = ["Endpoint", "Methods", "Rule", "Runs on"];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] as string).length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((width) => "-".repeat(width))));
  for (const row of rows) console.log(line(row));
}

async function serveCommand(argv: readonly string[], named: NamedApp | undefined): Promise<number> {
  const given = workerOptions();
  if (given !== null) return serve(given, version());
  if (isHelpRequest(argv)) {
    console.log(serveHelp());
    return 0;
  }
  const options = await resolveSettings({
    argv,
    env: process.env,
    cwd: process.cwd(),
    ...(named === undefined ? {} : { app: named }),
  });
  return serve(options, version());
}

/** What comes before the command: `--app`, `--help`, `--version`. */
interface GlobalOptions {
  app: NamedApp | undefined;
  help: boolean;
  version: boolean;
  command: string | undefined;
  rest: string[];
}

function readGlobalOptions(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): GlobalOptions {
  const options: GlobalOptions = {
    app: undefined,
    help: false,
    version: false,
    command: undefined,
    rest: [],
  };
  let i = 0;
  for (; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === "-h" || arg === "--help") options.help = true;
    else if (arg === "-v" || arg === "--version") options.version = true;
    else if (arg === "-A" || arg === "--app" || arg.startsWith("--app=")) {
      const spec = arg.startsWith("--app=") ? arg.slice("--app=".length) : argv[++i];
      if (spec === undefined || spec === "" || spec.startsWith("-")) {
        throw new UsageError(`${arg.split("=")[0] as string} needs the app, e.g. --app app.ts:app`);
      }
      options.app = { spec, from: "--app" };
    } else if (arg.startsWith("-")) {
      throw new UsageError(`unknown option '${arg}' before the command`);
    } else break;
  }
  options.command = argv[i];
  options.rest = argv.slice(i + 1);
  const fromEnv = env.CARAFE_APP;
  if (options.app === undefined && fromEnv !== undefined && fromEnv !== "") {
    options.app = { spec: fromEnv, from: "CARAFE_APP" };
  }
  return options;
}

/** The commands of a loaded app, or a usage error saying why there are none. */
function commandsOf(app: ServableApp, spec: string): AppCommands {
  if (app.cli === undefined) {
    throw new UsageError(
      `'${spec}' is not a Carafe app, so it has no commands of its own; carafe's are ${BUILT_IN.map(([name]) => name).join(", ")}`,
    );
  }
  return app.cli;
}

/** Writes `text` and resolves once the stream has taken it (before the process exits). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

/** Options of `main`. */
export interface MainOptions {
  /**
   * End the process once an app's command is done, as Flask's CLI does, even when the app left
   * a timer or a connection open (what `bin/carafe.js` asks for).
   */
  exitAfterCommand?: boolean;
}

/** The files looked for when no app is named, for messages: `wsgi.ts, wsgi.mts, …`. */
function defaultFiles(): string {
  return listCandidates(DEFAULT_MODULES.flatMap((name) => moduleCandidates(name)));
}

/**
 * The app a command serves when none is named (no argument, no --app, no CARAFE_APP): the
 * current directory's wsgi or app module, as `flask run` finds wsgi.py or app.py.
 */
function defaultApp(command: string): string {
  const found = findDefaultModule();
  if (found !== undefined) return found;
  throw new UsageError(
    `${command} needs the app: none was named and the current directory (${process.cwd()}) has none of ${defaultFiles()}; name it, e.g. carafe ${command} app.ts:app (or carafe --app app.ts:app ${command}, or CARAFE_APP=app.ts:app)`,
  );
}

/** Runs one of the app's own commands: `carafe --app app.ts NAME ...`. */
async function appCommand(
  name: string,
  argv: readonly string[],
  named: NamedApp | undefined,
  options: MainOptions,
): Promise<number> {
  const spec = named?.spec ?? findDefaultModule();
  if (spec === undefined) {
    throw new UsageError(
      `unknown command '${name}'; carafe's commands are ${BUILT_IN.map(([each]) => each).join(", ")}. An app's own command needs the app: carafe --app app.ts ${name} (or CARAFE_APP=app.ts), or one of ${defaultFiles()} in the current directory`,
    );
  }
  const cli = commandsOf(await loadApp(spec), spec);
  if (!cli.commands.has(name)) {
    const available = [...BUILT_IN.map(([each]) => each), ...cli.commands.keys()].sort();
    throw new UsageError(`No such command '${name}'. Available commands: ${available.join(", ")}`);
  }
  const { exitCode } = await cli.main([name, ...argv], {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    prog: "carafe",
    stacks: true,
  });
  if (options.exitAfterCommand === true) {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(exitCode);
  }
  return exitCode;
}

/**
 * The usage, with the app's commands when an app is named or, as `flask --help` finds it, one
 * is in the current directory (one that fails to load is named in a line after the usage).
 */
async function printUsage(
  named: NamedApp | undefined,
  print: (text: string) => void,
): Promise<void> {
  const spec = named?.spec ?? findDefaultModule();
  if (spec === undefined) {
    print(USAGE);
    return;
  }
  let app: Awaited<ReturnType<typeof loadApp>>;
  try {
    app = await loadApp(spec);
  } catch (error) {
    if (named !== undefined || !(error instanceof AppLoadError)) throw error;
    print(`${USAGE}
The app found in the current directory (${spec}) did not load, so its commands are not listed:
${error.message.split("\n").slice(0, 2).join(" ")}`);
    return;
  }
  // A fetch app has no commands of its own: carafe's are listed alone.
  const width = Math.max(...BUILT_IN.map(([name]) => name.length));
  const listing =
    app.cli?.listing(BUILT_IN) ??
    BUILT_IN.map(([name, help]) => `  ${name.padEnd(width)}  ${help}`);
  print(`${USAGE}
Commands of ${spec}:
${listing.join("\n")}`);
}

async function devCommand(
  command: string,
  argv: readonly string[],
  named: NamedApp | undefined,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      host: { type: "string", short: "H" },
      port: { type: "string", short: "p" },
      threaded: { type: "boolean" },
      threads: { type: "string" },
      "thread-max-heap": { type: "string" },
      reload: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  const [given, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0] as string}'`);
  if (given !== undefined && named?.from === "--app") {
    throw new UsageError(
      `${command} got two apps: '${named.spec}' (--app) and '${given}'; name it once`,
    );
  }
  const spec = given ?? named?.spec ?? defaultApp(command);
  const port = parseCount(values.port, "--port", 0, 5000);
  const threads = parseCount(values.threads, "--threads", 1, 0);
  const heap = values["thread-max-heap"];
  const threadMaxHeap = heap === undefined ? null : parseCount(heap, "--thread-max-heap", 0, 0);
  const app = await loadApp(spec);
  if (command === "routes") {
    printRoutes(app);
    return 0;
  }
  if (values.debug && app.config !== undefined) app.config.debug = true;
  const { runDevServer } = await import("./dev/dev-server.ts");
  await runDevServer(app, {
    host: values.host ?? "127.0.0.1",
    port,
    appSpec: spec,
    threaded: values.threaded === true || threads > 0,
    ...(threads > 0 ? { threads } : {}),
    ...(threadMaxHeap !== null ? { threadMaxHeap } : {}),
    reload: values.reload === true || values.debug === true,
    debug: values.debug === true,
  });
  return typeof process.exitCode === "number" ? process.exitCode : 0;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  let command: string | undefined = argv[0];
  try {
    const global = readGlobalOptions(argv, process.env);
    command = global.command;
    if (global.version) {
      console.log(`carafe ${version()}`);
      return 0;
    }
    if (command === undefined || global.help) {
      // `carafe serve --help` reaches serve; `carafe --help serve` is the same request.
      if (global.help && command === "serve") return await serveCommand(["--help"], global.app);
      await printUsage(
        global.app,
        command === undefined && !global.help ? console.error : console.log,
      );
      return command === undefined && !global.help ? 2 : 0;
    }
    const { rest, app } = global;
    if (command === "init") return (await import("./init.ts")).initCommand(rest);
    if (command === "serve") return await serveCommand(rest, app);
    if (command === "run" || command === "routes") {
      if (isHelpRequest(rest)) {
        console.log(USAGE);
        return 0;
      }
      return await devCommand(command, rest, app);
    }
    return await appCommand(command, rest, app, options);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (
      error instanceof UsageError ||
      error instanceof SettingsError ||
      (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))
    ) {
      const help = command === "serve" ? "carafe serve --help" : "carafe --help";
      console.error(`carafe: ${(error as Error).message}\nRun '${help}' for usage.`);
      return 2;
    }
    // The server's own errors say what went wrong and what to do: a stack would only bury it.
    if (error instanceof ServerError) {
      console.error(`carafe: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
