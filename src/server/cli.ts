// The `carafe` command: `carafe serve` (supervisor, worker processes and threads, as gunicorn),
// `carafe run` (the development server) and `carafe routes` (the URL map with where each route
// runs). In a worker process forked by `serve`, the same command line lands here again and
// becomes that worker.

import { readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import type { RouteListing, ServableApp } from "../framework/internal.ts";
import { runDevServer } from "./dev/dev-server.ts";
import { ServerError } from "./errors.ts";
import { loadApp } from "./loading/load-app.ts";
import { serve, workerOptions } from "./serve.ts";
import { SettingsError, isHelpRequest, resolveSettings, serveHelp } from "./settings.ts";

const USAGE = `Usage: carafe <command> [options]

Commands:
  serve MODULE[:EXPORT]    Serve the app in production: worker processes × threads
  run MODULE[:EXPORT]      Serve the app with the development server
  routes MODULE[:EXPORT]   List the app's routes: endpoint, methods, rule, where it runs

MODULE is a .ts or .js file; EXPORT defaults to app, application or default.
The app is a Carafe app or any object with a fetch(Request) method (a Hono app, say).
'carafe serve --help' lists the options of serve.

Options of run:
  -H, --host HOST          Interface to listen on (default 127.0.0.1)
  -p, --port PORT          Port to listen on (default 5000)
      --threaded           Run synchronous handlers on a pool of worker threads
      --threads N          Size of that pool (default: the number of cores)
      --thread-max-heap MB Largest JS heap of each pool thread (default: as carafe serve's)
      --reload             Restart when a source file changes
      --debug              Debug mode: stack traces for loopback clients, and --reload
  -h, --help               Show this help
  -v, --version            Show the version
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

async function serveCommand(argv: readonly string[]): Promise<number> {
  const given = workerOptions();
  if (given !== null) return serve(given, version());
  if (isHelpRequest(argv)) {
    console.log(serveHelp());
    return 0;
  }
  const options = await resolveSettings({ argv, env: process.env, cwd: process.cwd() });
  return serve(options, version());
}

async function devCommand(command: string, argv: readonly string[]): Promise<number> {
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
  const [spec, ...extra] = positionals;
  if (spec === undefined)
    throw new UsageError(`${command} needs the app, e.g. carafe ${command} app.ts:app`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0] as string}'`);
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
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "-v" || command === "--version") {
      console.log(`carafe ${version()}`);
      return 0;
    }
    if (command === undefined || command === "-h" || command === "--help") {
      (command === undefined ? console.error : console.log)(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === "serve") return await serveCommand(rest);
    if (command === "run" || command === "routes") {
      if (isHelpRequest(rest)) {
        console.log(USAGE);
        return 0;
      }
      return await devCommand(command, rest);
    }
    throw new UsageError(`unknown command '${command}'`);
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
