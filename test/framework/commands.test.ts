// An app's commands (`app.cli.command`) run through the CLI runner, as `carafe --app app.ts
// NAME ...` runs them: parsed arguments and options, click's exit codes and messages, help, and
// the app context around the handler.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CarafeError, currentApp, g, request } from "carafe";
import { deferred, newApp } from "../helpers.ts";

function appWithGreet() {
  const app = newApp({ name: "greeter" });
  app.cli.command(
    "greet",
    {
      help: "Greet someone.\nSays hello, as many times as asked.",
      args: { name: { help: "Who to greet." }, rest: { variadic: true } },
      options: {
        times: { type: "number", short: "t", default: 1, help: "How many times." },
        shout: { type: "boolean", help: "In capitals." },
        greeting: { type: "string" },
        tag: { multiple: true },
      },
    },
    ({ name, rest, times, shout, greeting, tag }, echo) => {
      for (let i = 0; i < times; i += 1) {
        const text = `${greeting ?? "Hello"}, ${name}!`;
        echo(shout ? text.toUpperCase() : text);
      }
      if (rest.length > 0 || tag.length > 0)
        console.log(`rest=${rest.join(",")} tag=${tag.join(",")}`);
    },
  );
  return app;
}

describe("app.cli.command and app.testCliRunner()", () => {
  it("runs a command with its arguments and options, and captures what it writes", async () => {
    const runner = appWithGreet().testCliRunner();
    assert.deepEqual(await runner.invoke(["greet", "Ada"]), {
      exitCode: 0,
      output: "Hello, Ada!\n",
    });
    const many = await runner.invoke([
      "greet",
      "--shout",
      "-t",
      "2",
      "Bob",
      "x",
      "y",
      "--tag",
      "a",
      "--tag=b",
    ]);
    assert.equal(many.exitCode, 0);
    assert.equal(many.output, "HELLO, BOB!\nHELLO, BOB!\nrest=x,y tag=a,b\n");
    const custom = await runner.invoke(["greet", "--greeting", "Hi", "--", "--dash"]);
    assert.equal(custom.output, "Hi, --dash!\n");
  });

  it("runs a command without options, sync or async, as Flask's init-db", async () => {
    const app = newApp();
    const done: string[] = [];
    app.cli.command("init-db", () => {
      done.push("init");
      console.log("Initialized the database.");
    });
    app.cli.command("seed", { help: "Add rows." }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      done.push("seed");
      console.log("Seeded.");
    });
    const runner = app.testCliRunner();
    assert.deepEqual(await runner.invoke(["init-db"]), {
      exitCode: 0,
      output: "Initialized the database.\n",
    });
    assert.deepEqual(await runner.invoke(["seed"]), { exitCode: 0, output: "Seeded.\n" });
    assert.deepEqual(done, ["init", "seed"]);
  });

  it("runs the handler inside an app context, and teardownAppcontext after it", async () => {
    const app = newApp({ name: "ctx" });
    const seen: string[] = [];
    app.teardownAppcontext(async (error) => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(
        `teardown ${String(g.opened)} ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    app.cli.command("use", async () => {
      g.opened = "db";
      await Promise.resolve();
      seen.push(`app ${currentApp.name}`);
      assert.throws(() => request.path, { code: "ERR_NO_REQUEST_CONTEXT" });
    });
    app.cli.command("fail", () => {
      g.opened = "db2";
      throw new Error("no database");
    });
    const runner = app.testCliRunner();
    assert.equal((await runner.invoke(["use"])).exitCode, 0);
    assert.deepEqual(seen, ["app ctx", "teardown db undefined"]);
    const failed = await runner.invoke(["fail"]);
    assert.equal(failed.exitCode, 1);
    assert.deepEqual(seen.at(-1), "teardown db2 no database");
  });

  it("exits 1 with the message when the handler fails, and hands back the error", async () => {
    const app = newApp();
    const failure = new Error("the database is locked");
    app.cli.command("broken", () => {
      console.log("starting");
      throw failure;
    });
    app.cli.command("rejects", async () => {
      await Promise.resolve();
      throw new CarafeError("ERR_X", "async failure");
    });
    const runner = app.testCliRunner();
    const result = await runner.invoke(["broken"]);
    assert.equal(result.exitCode, 1);
    assert.equal(result.error, failure);
    assert.equal(result.output, "starting\nError: the database is locked\n");
    const rejected = await runner.invoke(["rejects"]);
    assert.equal(rejected.exitCode, 1);
    assert.match(rejected.output, /^Error: async failure\n$/);
  });

  it("exits 2 on a usage error, naming the problem under the command's usage", async () => {
    const runner = appWithGreet().testCliRunner();
    const cases: [string[], string][] = [
      [["greet"], "Error: Missing argument 'NAME'."],
      [["greet", "Ada", "--loud"], "Error: No such option: --loud"],
      [
        ["greet", "Ada", "--times", "many"],
        "Error: Invalid value for '--times': 'many' is not a valid number.",
      ],
      [["greet", "Ada", "--greeting"], "Error: Option '--greeting' requires an argument."],
      [["greet", "Ada", "--shout=yes"], "Error: Option '--shout' does not take a value."],
    ];
    for (const [args, message] of cases) {
      const result = await runner.invoke(args);
      assert.equal(result.exitCode, 2, args.join(" "));
      assert.equal(
        result.output,
        `Usage: carafe greet [OPTIONS] NAME [REST]...\nTry 'carafe greet --help' for help.\n\n${message}\n`,
      );
    }
  });

  it("names a missing required option and extra arguments", async () => {
    const app = newApp();
    app.cli.command(
      "adduser",
      { args: { userName: {} }, options: { email: { required: true } } },
      ({ userName, email }) => console.log(`${userName} <${email}>`),
    );
    const runner = app.testCliRunner();
    const missing = await runner.invoke(["adduser", "ada"]);
    assert.equal(missing.exitCode, 2);
    assert.match(missing.output, /^Usage: carafe adduser \[OPTIONS\] USER_NAME\n/);
    assert.match(missing.output, /Error: Missing option '--email'\.\n$/);
    const extra = await runner.invoke(["adduser", "ada", "bob", "cy", "--email", "a@b.c"]);
    assert.equal(extra.exitCode, 2);
    assert.match(extra.output, /Error: Got unexpected extra arguments \(bob cy\)\n$/);
    assert.deepEqual(await runner.invoke(["adduser", "ada", "--email", "a@b.c"]), {
      exitCode: 0,
      output: "ada <a@b.c>\n",
    });
  });

  it("fills optional arguments from their defaults", async () => {
    const app = newApp();
    app.cli.command(
      "show",
      { args: { what: { default: "all" }, count: { type: "number", required: false } } },
      ({ what, count }) => console.log(JSON.stringify({ what, count })),
    );
    const runner = app.testCliRunner();
    assert.equal((await runner.invoke(["show"])).output, '{"what":"all"}\n');
    assert.equal(
      (await runner.invoke(["show", "users", "3"])).output,
      '{"what":"users","count":3}\n',
    );
  });

  it("prints a command's help for --help, exit 0, without running it", async () => {
    let ran = false;
    const app = appWithGreet();
    app.cli.command("noop", () => void (ran = true));
    const result = await app.testCliRunner().invoke(["greet", "--help"]);
    assert.equal(result.exitCode, 0);
    assert.equal(
      result.output,
      [
        "Usage: carafe greet [OPTIONS] NAME [REST]...",
        "",
        "  Greet someone.",
        "  Says hello, as many times as asked.",
        "",
        "Arguments:",
        "  NAME  Who to greet.",
        "",
        "Options:",
        "  -t, --times NUMBER  How many times.  [default: 1]",
        "  --shout             In capitals.",
        "  --greeting TEXT",
        "  --tag TEXT",
        "  --help              Show this message and exit.",
        "",
      ].join("\n"),
    );
    assert.equal((await app.testCliRunner().invoke(["noop", "--help"])).exitCode, 0);
    assert.equal(ran, false);
  });

  it("lists the commands for --help, and exits 2 naming them for an unknown or missing command", async () => {
    const app = appWithGreet();
    app.cli.command("init-db", { help: "Create the tables.\nAnd more." }, () => undefined);
    const runner = app.testCliRunner();
    const help = await runner.invoke(["--help"]);
    assert.equal(help.exitCode, 0);
    assert.equal(
      help.output,
      "Usage: carafe COMMAND [ARGS]...\n\nCommands:\n  greet    Greet someone.\n  init-db  Create the tables.\n",
    );
    const unknown = await runner.invoke(["nope"]);
    assert.equal(unknown.exitCode, 2);
    assert.match(
      unknown.output,
      /Error: No such command 'nope'\. Its commands: greet, init-db\.\n$/,
    );
    const none = await runner.invoke([]);
    assert.equal(none.exitCode, 2);
    assert.match(none.output, /Commands:\n {2}greet/);
  });

  it("runs invocations side by side, each capturing only its own output, and lets other writes through", async () => {
    const app = newApp();
    const gate = deferred();
    app.cli.command("say", { args: { word: {} } }, async ({ word }) => {
      console.log(`${word} 1`);
      await gate.promise;
      process.stderr.write(`${word} 2\n`);
    });
    const runner = app.testCliRunner();
    const passedThrough: string[] = [];
    const original = process.stderr.write;
    const fake = ((text: string) => passedThrough.push(text) > 0) as typeof original;
    process.stderr.write = fake;
    try {
      const both = Promise.all([runner.invoke(["say", "a"]), runner.invoke(["say", "b"])]);
      await new Promise((resolve) => setImmediate(resolve));
      process.stderr.write("from the test\n");
      gate.resolve();
      const [a, b] = await both;
      assert.equal(a.output, "a 1\na 2\n");
      assert.equal(b.output, "b 1\nb 2\n");
      assert.equal(process.stderr.write, fake, "the stream is given back once no invocation runs");
    } finally {
      process.stderr.write = original;
    }
    assert.deepEqual(passedThrough, ["from the test\n"]);
  });

  it("refuses a bad declaration at once, naming the command and the problem", () => {
    const app = newApp();
    app.cli.command("taken", () => undefined);
    const refused: [() => unknown, RegExp][] = [
      [() => app.cli.command("taken", () => undefined), /already registered/],
      [() => app.cli.command("run", () => undefined), /one of carafe's own commands/],
      [() => app.cli.command("init", () => undefined), /one of carafe's own commands/],
      [() => app.cli.command("two words", () => undefined), /must be a word/],
      [
        () => app.cli.command("x", { options: { help: { type: "boolean" } } }, () => undefined),
        /--help/,
      ],
      [
        () =>
          app.cli.command("y", { args: { files: { variadic: true }, last: {} } }, () => undefined),
        /'files' is variadic, so it must be the last/,
      ],
      [
        () =>
          app.cli.command("z", { options: { n: { type: "int" as "number" } } }, () => undefined),
        /option 'n' has type "int"/,
      ],
      [
        () => app.cli.command("w", { options: { a: { short: "ab" } } }, () => undefined),
        /one letter/,
      ],
      [() => app.cli.command("v", {} as never), /handler must be a function/],
    ];
    for (const [register, message] of refused) {
      assert.throws(register, (error) => {
        assert.ok(error instanceof CarafeError);
        assert.equal(error.code, "ERR_BAD_COMMAND");
        assert.match(error.message, message);
        return true;
      });
    }
  });

  it("may add commands after the app started serving (they are not routes)", async () => {
    const app = newApp();
    app.get("/", () => "");
    await app.testClient().get("/");
    app.cli.command("late", () => console.log("late"));
    assert.equal((await app.testCliRunner().invoke(["late"])).output, "late\n");
  });
});
