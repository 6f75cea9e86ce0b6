// The package as users install it: the tarball `npm pack` writes ships what its README links
// to, runs nothing when installed, and declares its types with nothing a user must add; and a
// new user's way from the tarball to a served app works, step by step
// (scripts/check-package.ts, which also runs on its own, timing each step).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import ts from "typescript";
import { journeyIn, manifest, steps, unpack } from "../../scripts/check-package.ts";
import { brokenLinks, markdownFiles } from "../markdown-links.ts";

const folder = mkdtempSync(join(tmpdir(), "carafe-package-"));
const journey = journeyIn(folder);
const [pack, ...userSteps] = steps(journey);
let packed: string;

before(async () => {
  await pack?.run();
  packed = unpack(journey.tarball, join(folder, "unpacked"));
});

after(() => rmSync(folder, { recursive: true, force: true }));

/** The files under `root` whose names end with `suffix`. */
function filesEndingWith(root: string, suffix: string): string[] {
  return readdirSync(root, { recursive: true })
    .map((file) => join(root, String(file)))
    .filter((file) => file.endsWith(suffix));
}

/**
 * What a declaration file imports that is neither Carafe's own nor Node's, nor a runtime
 * dependency that declares its own types: what a user would have to find and install.
 */
function foreignImports(file: string, dependencies: ReadonlySet<string>): string[] {
  const scanned = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return [...scanned.importedFiles, ...scanned.typeReferenceDirectives]
    .map(({ fileName }) => fileName)
    .filter((name) => !name.startsWith(".") && !name.startsWith("node:"))
    .filter((name) => !dependencies.has(name));
}

/** The runtime dependencies whose packages carry their own declarations. */
function typedDependencies(): Set<string> {
  const typed = new Set<string>();
  for (const name of Object.keys(manifest().dependencies)) {
    const found = resolve(import.meta.dirname, "../../node_modules", name, "package.json");
    const own = JSON.parse(readFileSync(found, "utf8")) as { types?: string; typings?: string };
    if (own.types !== undefined || own.typings !== undefined) typed.add(name);
  }
  return typed;
}

describe("the packed tarball", { timeout: 120_000 }, () => {
  it("ships every file its Markdown links to", () => {
    const files = markdownFiles(packed, new Set(["node_modules"]));
    const shipped = files.map((file) => relative(packed, file));
    for (const expected of ["README.md", "docs/flask-to-carafe.md", "docs/tutorial.md"]) {
      assert.ok(shipped.includes(expected), `${expected} is not in the tarball`);
    }
    assert.deepEqual(brokenLinks(files, packed), []);
  });

  it("runs no script of its own when installed", () => {
    const { scripts } = manifest(packed);
    const installScripts = ["preinstall", "install", "postinstall", "prepare"];
    assert.deepEqual(
      installScripts.filter((name) => scripts[name] !== undefined),
      [],
    );
    assert.equal(scripts.prepack, "npm run build");
  });

  it("ships declarations that import only Carafe's own files and Node's modules", () => {
    const declarations = filesEndingWith(join(packed, "dist"), ".d.ts");
    assert.ok(declarations.some((file) => file.endsWith("dist/index.d.ts")));
    const typed = typedDependencies();
    const foreign = declarations.flatMap((file) =>
      foreignImports(file, typed).map((name) => `${relative(packed, file)} imports ${name}`),
    );
    assert.deepEqual(foreign, []);
  });

  it("finds a declaration that imports another package's types, and not one in a comment", () => {
    // The check above passes only if it can fail.
    const file = join(folder, "sample.d.ts");
    writeFileSync(
      file,
      [
        '/** @example import { Hono } from "hono"; */',
        'import type nunjucks from "nunjucks";',
        'import type { Server } from "node:http";',
        "export declare const environment: nunjucks.Environment, server: Server;",
      ].join("\n"),
    );
    assert.deepEqual(foreignImports(file, typedDependencies()), ["nunjucks"]);
  });
});

describe("a new project from the tarball", { timeout: 300_000 }, () => {
  for (const step of userSteps) {
    it(`works as a new user runs it: ${step.name}`, async () => {
      await step.run();
    });
  }
});
