// The code the tutorial shows is the code of examples/flaskr: every line of its TypeScript blocks
// (but the `…` that stands for lines left out) is a line of the example, so a change to the
// example that the tutorial does not follow fails here.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..");
const EXAMPLE = join(ROOT, "examples/flaskr");

/** The lines of `markdown`'s TypeScript blocks that are not among `code`'s lines. */
function linesNotIn(markdown: string, code: ReadonlySet<string>): string[] {
  const missing: string[] = [];
  for (const [, block = ""] of markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    for (const line of block.split("\n")) {
      const text = line.trim();
      if (text !== "" && text !== "…" && !code.has(text)) missing.push(text);
    }
  }
  return missing;
}

test("the tutorial's TypeScript is examples/flaskr's, line for line", () => {
  const code = new Set(
    readdirSync(EXAMPLE)
      .filter((file) => file.endsWith(".ts"))
      .flatMap((file) => readFileSync(join(EXAMPLE, file), "utf8").split("\n"))
      .map((line) => line.trim()),
  );
  const tutorial = readFileSync(join(ROOT, "docs/tutorial.md"), "utf8");
  assert.ok(/^```ts\n/m.test(tutorial), "the tutorial shows TypeScript");
  assert.deepEqual(linesNotIn(tutorial, code), []);
  // A line the example does not have is found, and `…` is not one.
  assert.deepEqual(linesNotIn("```ts\nconst a = 1;\n  …\nconst b = 2;\n```\n", code), [
    "const a = 1;",
    "const b = 2;",
  ]);
});

/** What `wc -l` counts: the newlines of the files under `paths` (folders walked). */
function lineCount(...paths: string[]): number {
  return paths
    .flatMap((path) =>
      statSync(path).isDirectory()
        ? readdirSync(path, { recursive: true })
            .map((entry) => join(path, String(entry)))
            .filter((file) => statSync(file).isFile())
        : [path],
    )
    .reduce((sum, file) => sum + (readFileSync(file, "utf8").match(/\n/g)?.length ?? 0), 0);
}

test("the tutorial's line counts of Carafe's Flaskr are the files' own", () => {
  const tutorial = readFileSync(join(ROOT, "docs/tutorial.md"), "utf8");
  const table = tutorial.slice(tutorial.indexOf("## Flask's Flaskr and Carafe's, line by line"));
  const counted = new Map(
    [...table.matchAll(/^\| (.+?) \| \**(\d+)\** \| \**(\d+)\** \|$/gm)].map(
      ([, part = "", , carafe = ""]) => [part.replace(/\*/g, ""), Number(carafe)],
    ),
  );
  const parts = {
    "factory (`__init__.py` / `app.ts`)": lineCount(join(EXAMPLE, "app.ts")),
    "database (`db.py` / `db.ts`)": lineCount(join(EXAMPLE, "db.ts")),
    "auth blueprint": lineCount(join(EXAMPLE, "auth.ts")),
    "blog blueprint": lineCount(join(EXAMPLE, "blog.ts")),
    schema: lineCount(join(EXAMPLE, "schema.sql")),
    "templates (6)": lineCount(join(EXAMPLE, "templates")),
    "tests and fixtures": lineCount(join(EXAMPLE, "tests")),
  };
  const total = Object.values(parts).reduce((sum, count) => sum + count, 0);
  assert.deepEqual(Object.fromEntries(counted), { ...parts, total });
});
