// The API reports: one api/<entry>.api.md per entry point of package.json#exports, made by
// API Extractor from the declarations tsc emits. `npm run api` writes them; `--check` (run by
// `npm test`) fails when the public surface differs from the checked-in reports, so that every
// change to it is deliberate and shows in review.
//
// A type that a public signature names must be exported by that entry point too (else the
// report, and the user, cannot see it). The exceptions, each a decision:
// - the type is exported by another entry point (`NamedShared` is `carafe/threading`'s);
// - the signature that names it, or the type itself, is marked `@internal` (the server's);
// - it is a helper type in `helperTypes` below: users never name it, only what it builds;
// - it is in `undecided` below, with the change that decides it.
import { CompilerState, Extractor, ExtractorConfig } from "@microsoft/api-extractor";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";

const check = process.argv.includes("--check");
const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const packageJsonFullPath = join(root, "package.json");
const pkg = JSON.parse(readFileSync(packageJsonFullPath, "utf8"));
const reportFolder = join(root, "api");
// Outside node_modules/, where API Extractor would take the declarations for another package's.
const work = mkdtempSync(join(tmpdir(), "carafe-api-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const declarations = join(work, "dts");

/** Types that public signatures use and users never name, with what they name instead. */
const helperTypes = {
  Collect: "the parser step behind RouteParams<rule>",
  AnyFunction: "threadTarget's constraint: any function",
  Args: "toThread's argument list, inferred from the function",
  TypedArrayConstructor: "NamedShared.array's constraint: Int32Array, Float64Array, …",
  SourceItem: "what an EventSource yields; users name EventSource",
  NotAMethod: "JsonObject's value for a key named like a method (then, has, …)",
  VerbMethods: "the get/post/put/patch/delete members of Carafe and Blueprint, made from one list",
};

/** Types on Carafe's public face that the route-plan contract (app.ts) is redefining. */
const undecided = {};

// Declarations of the current sources, never a stale dist/.
const tsc = spawnSync(
  process.execPath,
  [
    join(root, "node_modules", "typescript", "bin", "tsc"),
    ...["-p", join(root, "tsconfig.types.json")],
    ...["--sourceMap", "false", "--outDir", declarations],
  ],
  { stdio: "inherit" },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// "./threading" → carafe-threading; "./dist/threading/index.d.ts" → <declarations>/threading/index.d.ts
const entries = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === "object" && target.types)
  .map(([subpath, target]) => ({
    subpath: subpath === "." ? pkg.name : `${pkg.name}${subpath.slice(1)}`,
    reportName: `${pkg.name}${subpath.slice(1).replaceAll("/", "-")}`,
    declarationFile: join(declarations, relative("dist", target.types)),
  }));

const configs = entries.map((entry) =>
  ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: entry.declarationFile,
      compiler: { tsconfigFilePath: join(root, "tsconfig.types.json") },
      apiReport: {
        enabled: true,
        reportFileName: entry.reportName,
        reportFolder,
        reportTempFolder: join(work, "reports"),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: "error" } },
        extractorMessageReporting: {
          default: { logLevel: "error" },
          // Exports are public because package.json#exports and the index files say so, not
          // by release tags; `@internal` marks the members the server uses.
          "ae-missing-release-tag": { logLevel: "none" },
          "ae-internal-missing-underscore": { logLevel: "none" },
          // TSDoc is required on exports (STYLE.md), not on every member.
          "ae-undocumented": { logLevel: "none" },
          // Judged in `forgottenExport` below.
          "ae-forgotten-export": { logLevel: "warning" },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath,
  }),
);
const compilerState = CompilerState.create(configs[0], {
  additionalEntryPoints: configs.map((config) => config.mainEntryPointFilePath),
});
const checker = compilerState.program.getTypeChecker();
const exportedBy = new Map(
  entries.map((entry) => {
    const file = compilerState.program.getSourceFile(entry.declarationFile);
    const names = checker.getExportsOfModule(checker.getSymbolAtLocation(file));
    return [entry.subpath, new Set(names.map((symbol) => symbol.name))];
  }),
);

const problems = [];
const listedSeen = new Set();

/** Whether the declaration at `line` (1-based) of a .d.ts file has `@internal` in its TSDoc. */
function markedInternal(file, line) {
  return tsdocAbove(readFileSync(file, "utf8").split("\n"), line - 1);
}

/** Whether a type named `name` is declared, marked `@internal`, in the emitted declarations. */
function declaredInternal(name) {
  const declaration = new RegExp(
    `^(export )?(declare )?(abstract )?(interface|class|type) ${name}\\b`,
  );
  return compilerState.program.getSourceFiles().some((file) => {
    if (!file.fileName.startsWith(declarations)) return false;
    const lines = file.text.split("\n");
    return lines.some((text, index) => declaration.test(text) && tsdocAbove(lines, index));
  });
}

/** Whether the TSDoc block that ends just above line `index` (0-based) says `@internal`. */
function tsdocAbove(lines, index) {
  for (let above = index - 1; above >= 0; above--) {
    const text = lines[above].trim();
    if (!(text.startsWith("*") || text.startsWith("/**"))) return false;
    if (text.includes("@internal")) return true;
    if (text.startsWith("/**")) return false;
  }
  return false;
}

function forgottenExport(entry, message) {
  const name = /The symbol "([^"]+)"/.exec(message.text)?.[1] ?? "?";
  if (name in helperTypes || name in undecided) return listedSeen.add(name);
  const elsewhere = [...exportedBy].find(([, names]) => names.has(name));
  if (elsewhere && elsewhere[0] !== entry.subpath) return;
  if (markedInternal(message.sourceFilePath, message.sourceFileLine)) return;
  if (declaredInternal(name)) return;
  const where = relative(declarations, message.sourceFilePath).replace(/\.d\.ts$/, ".ts");
  problems.push(
    `${entry.subpath}: a public signature in src/${where} (near line ${message.sourceFileLine} of its .d.ts) ` +
      `names ${name}, which ${entry.subpath} does not export. Export it from the entry point if ` +
      `users see it, or mark the member @internal if only the server uses it.`,
  );
}

const drifted = [];
for (const [index, config] of configs.entries()) {
  const entry = entries[index];
  const hadReport = existsSync(config.reportFilePath);
  const result = Extractor.invoke(config, {
    localBuild: !check,
    compilerState,
    messageCallback(message) {
      if (message.messageId === "ae-forgotten-export") {
        forgottenExport(entry, message);
        message.handled = true;
      } else if (message.messageId.startsWith("console-")) {
        message.handled = true; // progress, and drift: judged below
      } else if (message.logLevel === "error" || message.logLevel === "warning") {
        problems.push(`${entry.subpath}: ${message.formatMessageWithLocation(root)}`);
        message.handled = true;
      } else {
        message.handled = true;
      }
    },
  });
  if (result.apiReportChanged) drifted.push({ entry, config, hadReport });
}

for (const name of [...Object.keys(helperTypes), ...Object.keys(undecided)]) {
  if (!listedSeen.has(name)) {
    problems.push(
      `${name} is listed in scripts/api-report.js but no public signature names it: remove it.`,
    );
  }
}

if (check) {
  for (const { entry, config, hadReport } of drifted) {
    const checkedIn = relative(root, config.reportFilePath);
    const generated = config.reportTempFilePath;
    problems.push(
      hadReport
        ? `The public API of ${entry.subpath} differs from ${checkedIn}:\n` +
            spawnSync("git", ["diff", "--no-index", "--", checkedIn, generated], {
              cwd: root,
              encoding: "utf8",
            }).stdout +
            `If the change is deliberate, run \`npm run api\` and commit ${checkedIn}.`
        : `${checkedIn} is missing: run \`npm run api\` and commit it.`,
    );
  }
} else {
  mkdirSync(reportFolder, { recursive: true });
  for (const { config } of drifted) console.log(`wrote ${relative(root, config.reportFilePath)}`);
}

if (problems.length > 0) {
  console.error(problems.join("\n\n"));
  process.exit(1);
}
console.log(
  check
    ? `api: ${entries.length} reports match the public API.`
    : `api: ${entries.length} reports in ${relative(root, reportFolder)}/.`,
);
