// The package's entry points export the public names only: what a layer's internal.ts adds for
// the server never leaks into `carafe`, `carafe/cli` or `carafe/threading`, as a value or a type.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import ts from "typescript";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
  exports: Record<string, string | { "carafe-source"?: string }>;
};
const entries = Object.entries(pkg.exports).flatMap(([subpath, target]) =>
  typeof target === "object" && target["carafe-source"]
    ? [{ specifier: `carafe${subpath.slice(1)}`, source: target["carafe-source"].slice(2) }]
    : [],
);
const layers = [
  { internal: "src/framework/internal.ts", index: "src/framework/index.ts" },
  { internal: "src/threading/internal.ts", index: "src/threading/index.ts" },
];
const moduleUrl = (file: string): string => new URL(`../${file}`, import.meta.url).href;

/** The names (values and types) each file exports, read by the TypeScript compiler. */
function exportedNames(files: readonly string[]): Map<string, Set<string>> {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    customConditions: ["carafe-source"],
    noEmit: true,
    types: [],
  };
  const program = ts.createProgram(files, options);
  const checker = program.getTypeChecker();
  return new Map(
    files.map((file) => {
      const source = program.getSourceFile(file);
      const module = source && checker.getSymbolAtLocation(source);
      assert.ok(module, `${file} is not a module`);
      return [file, new Set(checker.getExportsOfModule(module).map((symbol) => symbol.name))];
    }),
  );
}

/** What internal.ts exports beyond its layer's index.ts. */
function internalOnly(names: Map<string, Set<string>>): Set<string> {
  const only = new Set<string>();
  for (const { internal, index } of layers) {
    for (const name of names.get(internal) ?? []) {
      if (!names.get(index)?.has(name)) only.add(name);
    }
  }
  return only;
}

describe("the package's entry points", () => {
  it("export no name that only a layer's internal.ts exports, as a type or a value", () => {
    const files = layers.flatMap((layer) => [layer.internal, layer.index]);
    files.push(...entries.map((entry) => entry.source));
    const names = exportedNames(files);
    const internal = internalOnly(names);
    assert.ok(internal.has("setRunner") && internal.has("executeCall"), "internal names found");
    for (const entry of entries) {
      const exported = names.get(entry.source) ?? new Set<string>();
      const leaked = [...exported].filter((name) => internal.has(name));
      assert.deepEqual(leaked, [], `${entry.specifier} exports internal names`);
    }
  });

  it("export no internal value at run time", async () => {
    const internal = new Set<string>();
    for (const { internal: file, index } of layers) {
      const publicNames = new Set(Object.keys(await import(moduleUrl(index))));
      for (const name of Object.keys(await import(moduleUrl(file)))) {
        if (!publicNames.has(name)) internal.add(name);
      }
    }
    assert.ok(internal.has("setRunner") && internal.has("executeCall"), "internal values found");
    for (const { specifier } of entries) {
      const leaked = Object.keys(await import(specifier)).filter((name) => internal.has(name));
      assert.deepEqual(leaked, [], `${specifier} exports internal values`);
    }
  });
});
