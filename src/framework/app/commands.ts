// An app's command-line commands (Flask's `app.cli`, a click group): each command declares its
// positional arguments and its --options, the command line is parsed with node:util's
// parseArgs, and the handler runs inside an app context. Exit codes are click's: 0 done, 1 the
// handler failed, 2 the command line was wrong (the message names what).

import { parseArgs } from "node:util";
import { CarafeError } from "../errors.ts";

/** The kind of value of an argument or option: text, a number, or (options only) a flag. */
export type CommandValueType = "string" | "number" | "boolean";

/** A positional argument of a command (click's `@click.argument`). */
export interface CommandArgument {
  /** What it is, for `--help`. */
  help?: string;
  /** `"number"` turns the text into a number (a usage error when it is not one); default `"string"`. */
  type?: "string" | "number";
  /** Whether it must be given; default `true`, unless it has a `default` or is `variadic`. */
  required?: boolean;
  /** The value when it is not given. */
  default?: string | number;
  /** Takes every remaining argument, as a list (click's `nargs=-1`); only the last one may. */
  variadic?: boolean;
}

/** An `--option` of a command (click's `@click.option`); its key `dryRun` is written `--dry-run`. */
export interface CommandOption {
  /** `"boolean"` for a flag (`--force`), `"number"` or `"string"` (default) for `--name VALUE`. */
  type?: CommandValueType;
  /** A one-letter alias: `"f"` for `-f`. */
  short?: string;
  /** What it does, for `--help`. */
  help?: string;
  /** Whether it must be given (a usage error names it otherwise). */
  required?: boolean;
  /** The value when it is not given (a flag is `false` when not given). */
  default?: string | number | boolean;
  /** May be given more than once; the value is then a list. */
  multiple?: boolean;
}

/** The options of `app.cli.command(name, options, handler)`. */
export interface CommandOptions<
  A extends Record<string, CommandArgument> = Record<never, never>,
  O extends Record<string, CommandOption> = Record<never, never>,
> {
  /** What the command does: the first line shows in the list of commands, all of it in its `--help`. */
  help?: string;
  /** Its positional arguments, in order. */
  args?: A;
  /** Its `--options`. */
  options?: O;
}

/** The value of one argument or option declared as `S`, before lists and absence. */
export type CommandScalar<S> = S extends { type: "number" }
  ? number
  : S extends { type: "boolean" }
    ? boolean
    : string;

/** The value a handler gets for an argument declared as `S`. */
export type CommandArgumentValue<S> = S extends { variadic: true }
  ? CommandScalar<S>[]
  : S extends { default: string | number }
    ? CommandScalar<S>
    : S extends { required: false }
      ? CommandScalar<S> | undefined
      : CommandScalar<S>;

/** The value a handler gets for an option declared as `S`. */
export type CommandOptionValue<S> = S extends { multiple: true }
  ? CommandScalar<S>[]
  : S extends { type: "boolean" }
    ? boolean
    : S extends { required: true } | { default: string | number | boolean }
      ? CommandScalar<S>
      : CommandScalar<S> | undefined;

/** The values a command's handler receives: one per argument and per option, by its key. */
export type CommandValues<
  A extends Record<string, CommandArgument> = Record<never, never>,
  O extends Record<string, CommandOption> = Record<never, never>,
> = { -readonly [K in keyof A]: CommandArgumentValue<A[K]> } & {
  -readonly [K in keyof O]: CommandOptionValue<O[K]>;
};

/** Writes a line to the command's output (click's `echo`): what `console.log` does, captured alike. */
export type Echo = (text?: string) => void;

/** A command's handler: gets the parsed values; may be async. What it returns is ignored. */
export type CommandHandler<V = Record<string, unknown>> = (values: V, echo: Echo) => unknown;

/** A registered command. */
export interface Command {
  readonly name: string;
  readonly help: string;
  readonly args: Readonly<Record<string, CommandArgument>>;
  readonly options: Readonly<Record<string, CommandOption>>;
  readonly handler: CommandHandler;
}

/** Where a command line's output goes, and how failures are shown. @internal */
export interface CommandIO {
  /** Standard output (help, `echo`). */
  out(text: string): void;
  /** Standard error (usage errors, failures). */
  err(text: string): void;
  /** The program's name in usage lines: `carafe`. */
  prog: string;
  /** Show a failing handler's stack rather than its message alone (a real terminal). */
  stacks?: boolean;
}

/** What `CommandGroup` needs of its app: running code inside an app context. */
export interface CommandApp {
  appContext<T>(fn: () => T): T;
}

/** Names `carafe` itself answers (`carafe --app app.ts run`): an app's command cannot take them. */
const BUILT_IN = ["init", "run", "routes", "serve"];

/** A command line that cannot run: exit code 2, with the command's usage. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command: Command | undefined,
  ) {
    super(message);
  }
}

/** `dryRun` → `dry-run`: how an option's key is written on the command line. */
function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** `fileName` → `FILE_NAME`: how an argument is shown in usage lines. */
function metavarOf(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function badCommand(name: string, problem: string): never {
  throw new CarafeError("ERR_BAD_COMMAND", `cli.command(${describe(name)}): ${problem}`);
}

/** Refuses a command declaration that could never parse as meant. */
function checkDeclaration(
  name: string,
  args: Record<string, CommandArgument>,
  options: Record<string, CommandOption>,
): void {
  const keys = Object.keys(args);
  for (const [index, key] of keys.entries()) {
    const spec = args[key] as CommandArgument;
    if (spec.type !== undefined && spec.type !== "string" && spec.type !== "number") {
      badCommand(
        name,
        `argument '${key}' has type ${describe(spec.type)}; use "string" or "number"`,
      );
    }
    if (spec.variadic === true && index !== keys.length - 1) {
      badCommand(name, `argument '${key}' is variadic, so it must be the last argument`);
    }
  }
  const shorts = new Set<string>();
  for (const [key, spec] of Object.entries(options)) {
    if (flagOf(key) === "help") {
      badCommand(name, "--help is every command's own option; name yours otherwise");
    }
    if (keys.includes(key)) badCommand(name, `'${key}' is both an argument and an option`);
    const type = spec.type ?? "string";
    if (type !== "string" && type !== "number" && type !== "boolean") {
      badCommand(
        name,
        `option '${key}' has type ${describe(type)}; use "string", "number" or "boolean"`,
      );
    }
    if (spec.short !== undefined) {
      if (!/^[A-Za-z0-9]$/.test(spec.short)) {
        badCommand(
          name,
          `option '${key}': short must be one letter or digit (got ${describe(spec.short)})`,
        );
      }
      if (shorts.has(spec.short)) badCommand(name, `two options use -${spec.short}`);
      shorts.add(spec.short);
    }
  }
}

/**
 * An app's commands (`app.cli`), run by `carafe --app app.ts NAME` and by
 * `app.testCliRunner().invoke([NAME, ...])`.
 */
export class CommandGroup {
  readonly #app: CommandApp;
  readonly #commands = new Map<string, Command>();

  /** @internal */
  constructor(app: CommandApp) {
    this.#app = app;
  }

  /**
   * Adds a command (Flask's `@app.cli.command()`). Its handler gets the parsed arguments and
   * options, runs inside an app context (so `currentApp`, `g` and teardownAppcontext hooks
   * work as in a request), may be async, and writes with `console.log` or `echo`.
   *
   * @example
   * app.cli.command("init-db", { help: "Clear the existing data and create new tables." }, () => {
   *   initDb();
   *   console.log("Initialized the database.");
   * });
   * app.cli.command(
   *   "create-user",
   *   { args: { name: {} }, options: { admin: { type: "boolean", help: "Give every right." } } },
   *   ({ name, admin }) => createUser(name, admin),
   * );
   */
  command(name: string, handler: CommandHandler<CommandValues>): this;
  command<
    const A extends Record<string, CommandArgument> = Record<never, never>,
    const O extends Record<string, CommandOption> = Record<never, never>,
  >(
    name: string,
    options: CommandOptions<A, O>,
    handler: CommandHandler<CommandValues<A, O>>,
  ): this;
  command(
    name: string,
    optionsOrHandler: CommandOptions | CommandHandler<never>,
    maybeHandler?: CommandHandler<never>,
  ): this {
    const [options, handler] =
      typeof optionsOrHandler === "function"
        ? [{}, optionsOrHandler]
        : [optionsOrHandler as CommandOptions | undefined, maybeHandler];
    if (typeof name !== "string" || !/^[A-Za-z0-9][\w.:-]*$/.test(name)) {
      badCommand(name, "the name must be a word such as init-db (letters, digits, - _ . :)");
    }
    if (BUILT_IN.includes(name))
      badCommand(name, `'${name}' is one of carafe's own commands; pick another name`);
    if (this.#commands.has(name))
      badCommand(name, `a command named '${name}' is already registered`);
    if (options === null || typeof options !== "object")
      badCommand(name, "the options must be an object");
    if (typeof handler !== "function") badCommand(name, "the handler must be a function");
    const args = options.args ?? {};
    const flags = options.options ?? {};
    checkDeclaration(name, args, flags);
    this.#commands.set(name, {
      name,
      help: options.help ?? "",
      args,
      options: flags,
      handler: handler as CommandHandler,
    });
    return this;
  }

  /** The commands, by name. */
  get commands(): ReadonlyMap<string, Command> {
    return this.#commands;
  }

  /** `  name  first line of its help` for each command (and each `extra` row), sorted, names aligned. */
  listing(extra: readonly (readonly [string, string])[] = []): string[] {
    const rows: (readonly [string, string])[] = [
      ...[...this.#commands.values()].map(
        (command) => [command.name, firstLine(command.help)] as const,
      ),
      ...extra,
    ].sort(([a], [b]) => a.localeCompare(b));
    const width = Math.max(0, ...rows.map(([name]) => name.length));
    return rows.map(([name, help]) => `  ${name.padEnd(width)}  ${help}`.trimEnd());
  }

  /**
   * Runs a command line (`["init-db", "--force"]`): its output goes to `io`; resolves with the
   * exit code, 0 done, 1 the handler failed, 2 a usage error. @internal
   */
  async main(
    argv: readonly string[],
    io: CommandIO,
  ): Promise<{ exitCode: number; error?: unknown }> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help") {
      (name === undefined ? io.err : io.out)(this.#groupHelp(io.prog));
      return { exitCode: name === undefined ? 2 : 0 };
    }
    const command = this.#commands.get(name);
    let values: Record<string, unknown>;
    try {
      if (command === undefined) {
        const known = [...this.#commands.keys()].sort().join(", ") || "none";
        throw new UsageError(`No such command '${name}'. Its commands: ${known}.`, undefined);
      }
      const end = rest.indexOf("--");
      if ((end === -1 ? rest : rest.slice(0, end)).includes("--help")) {
        io.out(commandHelp(command, io.prog));
        return { exitCode: 0 };
      }
      values = parseCommandLine(command, rest);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      const usage =
        error.command === undefined
          ? `Usage: ${io.prog} COMMAND [ARGS]...`
          : usageLine(error.command, io.prog);
      const help =
        error.command === undefined
          ? `${io.prog} --help`
          : `${io.prog} ${error.command.name} --help`;
      io.err(`${usage}\nTry '${help}' for help.\n\nError: ${error.message}\n`);
      return { exitCode: 2 };
    }
    const echo: Echo = (text = "") => io.out(`${text}\n`);
    try {
      // Async, so that the app context ends (and its teardown hooks finish) before the exit code.
      await this.#app.appContext(async () => command.handler(values, echo));
      return { exitCode: 0 };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const stack = io.stacks === true && error instanceof Error ? error.stack : undefined;
      io.err(`${stack ?? `Error: ${message}`}\n`);
      return { exitCode: 1, error };
    }
  }

  #groupHelp(prog: string): string {
    const lines = [`Usage: ${prog} COMMAND [ARGS]...`, "", "Commands:", ...this.listing()];
    if (this.#commands.size === 0) lines.push("  (none: add them with app.cli.command())");
    return `${lines.join("\n")}\n`;
  }
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.trim() ?? "";
}

function usageLine(command: Command, prog: string): string {
  const args = Object.entries(command.args).map(([key, spec]) => {
    const shown = metavarOf(key);
    if (spec.variadic === true) return `[${shown}]...`;
    return isRequiredArgument(spec) ? shown : `[${shown}]`;
  });
  return [`Usage: ${prog} ${command.name} [OPTIONS]`, ...args].join(" ");
}

function isRequiredArgument(spec: CommandArgument): boolean {
  return spec.variadic !== true && spec.default === undefined && spec.required !== false;
}

/** The text `COMMAND --help` prints: usage, help, arguments with help, options. */
function commandHelp(command: Command, prog: string): string {
  const lines = [usageLine(command, prog)];
  if (command.help.trim() !== "") {
    lines.push(
      "",
      ...command.help
        .trim()
        .split("\n")
        .map((line) => `  ${line.trim()}`.trimEnd()),
    );
  }
  const table = (rows: [string, string][]): string[] => {
    const width = Math.max(...rows.map(([left]) => left.length));
    return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd());
  };
  const described = Object.entries(command.args).filter(([, spec]) => spec.help !== undefined);
  if (described.length > 0) {
    lines.push(
      "",
      "Arguments:",
      ...table(described.map(([key, spec]) => [metavarOf(key), spec.help ?? ""])),
    );
  }
  const options: [string, string][] = Object.entries(command.options).map(([key, spec]) => {
    const type = spec.type ?? "string";
    const flag = `${spec.short === undefined ? "" : `-${spec.short}, `}--${flagOf(key)}`;
    const notes = [
      spec.help ?? "",
      spec.default !== undefined && type !== "boolean" ? `[default: ${String(spec.default)}]` : "",
      spec.required === true ? "[required]" : "",
    ];
    return [
      type === "boolean" ? flag : `${flag} ${type === "number" ? "NUMBER" : "TEXT"}`,
      notes.filter((note) => note !== "").join("  "),
    ];
  });
  options.push(["--help", "Show this message and exit."]);
  lines.push("", "Options:", ...table(options));
  return `${lines.join("\n")}\n`;
}

/** The number `text` gives, or a usage error naming `what`. */
function toNumber(text: string, what: string, command: Command): number {
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (Number.isNaN(value)) {
    throw new UsageError(`Invalid value for ${what}: '${text}' is not a valid number.`, command);
  }
  return value;
}

/** Turns parseArgs' own errors into click's wording (which names the option). */
function parseError(error: unknown, command: Command): UsageError {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-[^'\s]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option !== undefined) {
    return new UsageError(`No such option: ${option}`, command);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option !== undefined) {
    return message.includes("does not take an argument")
      ? new UsageError(`Option '${option}' does not take a value.`, command)
      : new UsageError(`Option '${option}' requires an argument.`, command);
  }
  return new UsageError(message, command);
}

/** Parses `argv` as `command`'s arguments and options: the values its handler gets. */
function parseCommandLine(command: Command, argv: readonly string[]): Record<string, unknown> {
  const parserOptions: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [key, spec] of Object.entries(command.options)) {
    parserOptions[flagOf(key)] = {
      type: spec.type === "boolean" ? "boolean" : "string",
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple === true ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: parserOptions,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw parseError(error, command);
  }
  const values: Record<string, unknown> = {};
  const positionals = [...parsed.positionals];
  for (const [key, spec] of Object.entries(command.args)) {
    const shown = `'${metavarOf(key)}'`;
    const convert = (text: string): string | number =>
      spec.type === "number" ? toNumber(text, shown, command) : text;
    if (spec.variadic === true) {
      values[key] = positionals.splice(0).map(convert);
      if (spec.required === true && (values[key] as unknown[]).length === 0) {
        throw new UsageError(`Missing argument ${shown}.`, command);
      }
      continue;
    }
    const text = positionals.shift();
    if (text !== undefined) values[key] = convert(text);
    else if (spec.default !== undefined) values[key] = spec.default;
    else if (isRequiredArgument(spec)) throw new UsageError(`Missing argument ${shown}.`, command);
    else values[key] = undefined;
  }
  if (positionals.length > 0) {
    const plural = positionals.length === 1 ? "argument" : "arguments";
    throw new UsageError(`Got unexpected extra ${plural} (${positionals.join(" ")})`, command);
  }
  for (const [key, spec] of Object.entries(command.options)) {
    const flag = `--${flagOf(key)}`;
    const given = parsed.values[flagOf(key)];
    if (given === undefined) {
      if (spec.required === true) throw new UsageError(`Missing option '${flag}'.`, command);
      const fallback =
        spec.default ?? (spec.type === "boolean" && spec.multiple !== true ? false : undefined);
      values[key] = spec.multiple === true ? (fallback === undefined ? [] : [fallback]) : fallback;
      continue;
    }
    const convert = (value: string | boolean): unknown =>
      spec.type === "number" ? toNumber(String(value), `'${flag}'`, command) : value;
    values[key] = Array.isArray(given) ? given.map(convert) : convert(given);
  }
  return values;
}
