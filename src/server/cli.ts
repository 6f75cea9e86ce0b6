// The `carafe` command: `carafe run MODULE[:EXPORT]` (development server) and
// `carafe routes MODULE[:EXPORT]` (the URL map with where each route runs).

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Carafe } from "../framework/index.ts";
import { runDevServer } from "./dev-server.ts";
import { AppLoadError, loadApp, type LoadedApp } from "./load-app.ts";

const USAGE = `Usage: carafe <command> [options]

Commands:
  run MODULE[:EXPORT]      Serve the app with the development server
  routes MODULE[:EXPORT]   List the app's routes: endpoint, methods, rule, where it runs

MODULE is a .ts or .js file; EXPORT defaults to app, application or default.

Options of run:
  -H, --host HOST          Interface to listen on (default 127.0.0.1)
  -p, --port PORT          Port to listen on (default 5000)
      --debug              Debug mode: stack traces in error pages
  -h, --help               Show this help
  -v, --version            Show the version
`;

function version(): string {
  const file = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/** Thrown for a command line the user has to fix; printed with the usage hint. */
class UsageError extends Error {}

function parsePort(text: string | undefined): number {
  if (text === undefined) return 5000;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got '${text}'`);
  }
  return port;
}

function isCarafeApp(app: LoadedApp): app is LoadedApp & Carafe {
  return typeof (app as Partial<Carafe>).urlMap === "object";
}

function printRoutes(app: LoadedApp): void {
  if (!isCarafeApp(app)) throw new UsageError("routes needs a Carafe app");
  const rows = app.urlMap.rules().map((rule) => {
    const payload = rule.payload;
    const where =
      payload.thread === true
        ? "thread"
        : payload.thread === false || payload.isAsync
          ? "loop"
          : "loop (thread with --threads)";
    return [
      rule.endpoint,
      [...rule.methods]
        .filter((m) => m !== "HEAD")
        .sort()
        .join(","),
      rule.rule,
      where,
    ];
  });
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

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: "string", short: "H" },
        port: { type: "string", short: "p" },
        debug: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (error) {
    console.error(`carafe: ${(error as Error).message}\nRun 'carafe --help' for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    console.log(`carafe ${version()}`);
    return 0;
  }
  const [command, spec, ...extra] = positionals;
  if (values.help || command === undefined) {
    (command === undefined && !values.help ? console.error : console.log)(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    if (command !== "run" && command !== "routes")
      throw new UsageError(`unknown command '${command}'`);
    if (spec === undefined)
      throw new UsageError(`${command} needs the app, e.g. carafe ${command} app.ts:app`);
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0] as string}'`);
    const port = parsePort(values.port);
    const app = await loadApp(spec);
    if (command === "routes") {
      printRoutes(app);
      return 0;
    }
    if (values.debug && isCarafeApp(app)) app.config.debug = true;
    await runDevServer(app, { host: values.host ?? "127.0.0.1", port });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`carafe: ${error.message}\nRun 'carafe --help' for usage.`);
      return 2;
    }
    if (error instanceof AppLoadError) {
      console.error(`carafe: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
