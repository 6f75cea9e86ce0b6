// Type tests for app commands: the handler's values are typed from the declared arguments and
// options. Checked by `npm run typecheck`, never run.

import { Carafe, type CliResult, type CommandValues } from "carafe";

/** `true` only when A and B are the same type (not merely assignable to each other). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const app = new Carafe();

app.cli.command("init-db", (values, echo) => {
  const _values: Expect<Equal<typeof values, CommandValues>> = true;
  echo("Initialized the database.");
});

app.cli.command(
  "greet",
  {
    help: "Greet someone.",
    args: {
      name: {},
      count: { type: "number", required: false },
      title: { default: "friend" },
      rest: { variadic: true },
    },
    options: {
      shout: { type: "boolean" },
      times: { type: "number", default: 1 },
      greeting: { type: "string" },
      email: { required: true },
      tag: { multiple: true },
    },
  },
  async (_values) => {
    type Values = typeof _values;
    const _name: Expect<Equal<Values["name"], string>> = true;
    const _count: Expect<Equal<Values["count"], number | undefined>> = true;
    const _title: Expect<Equal<Values["title"], string>> = true;
    const _rest: Expect<Equal<Values["rest"], string[]>> = true;
    const _shout: Expect<Equal<Values["shout"], boolean>> = true;
    const _times: Expect<Equal<Values["times"], number>> = true;
    const _greeting: Expect<Equal<Values["greeting"], string | undefined>> = true;
    const _email: Expect<Equal<Values["email"], string>> = true;
    const _tag: Expect<Equal<Values["tag"], string[]>> = true;
    await Promise.resolve();
  },
);

app.cli.command("typo", { args: { name: {} } }, (values) => {
  // @ts-expect-error only declared values exist
  void values.nmae;
});

// @ts-expect-error an option's type is "string", "number" or "boolean"
app.cli.command("bad", { options: { n: { type: "int" } } }, () => undefined);

const _result: Expect<
  Equal<ReturnType<ReturnType<Carafe["testCliRunner"]>["invoke"]>, Promise<CliResult>>
> = true;
const _code: Expect<Equal<CliResult["exitCode"], number>> = true;
const _output: Expect<Equal<CliResult["output"], string>> = true;
// @ts-expect-error the command line is a list of strings
void app.testCliRunner().invoke("greet Ada");
