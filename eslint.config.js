// Lint rules, including the layer rules of the architecture: imports point one way
// (server → framework, anything → threading, integrations → public exports, security →
// CarafeError only), checked on resolved paths for every kind of import. Import cycles are
// scripts/check-cycles.js's: the cycle rules of ESLint plugins skip type-only imports.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";
import { createNodeResolver, importX } from "eslint-plugin-import-x";

const nodeOnlyInServer = [
  "node:http",
  "node:https",
  "node:net",
  "node:cluster",
  "node:worker_threads",
].map((name) => ({
  name,
  message: "The framework knows records, not sockets, processes or threads.",
}));

// Node defines these globals as getters, which optimised code cannot inline: every use on a
// request's path would call out to V8's generic global lookup. Imported, each is a constant.
const importedGlobals = [
  ["Buffer", 'import { Buffer } from "node:buffer"'],
  ["performance", 'import { performance } from "node:perf_hooks"'],
  ["process", 'import process from "node:process"'],
].map(([name, fix]) => ({ name, message: `${fix}: the global is a getter, slow in hot code.` }));

const root = dirname(fileURLToPath(import.meta.url));

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/results/", "bench/.build/", "test/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      eqeqeq: ["error", "always", { null: "ignore" }],
    },
  },
  {
    files: ["src/**"],
    rules: { "no-restricted-globals": ["error", ...importedGlobals] },
  },
  {
    // A promise nobody awaits or catches loses its rejection: an unhandled rejection ends the
    // process. `void` marks the few that are dropped on purpose (with a comment saying why).
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: {
        // The tutorial app is a project of its own, with its own declarations of AppConfig and
        // AppGlobals, as a user's app is.
        project: ["./tsconfig.json", "./examples/flaskr/tsconfig.json"],
        tsconfigRootDir: root,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's describe/it return promises that the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": "error",
    },
  },
  {
    // Scripts the examples serve to the browser.
    files: ["examples/*/static/**/*.js"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ["src/framework/**"],
    rules: { "no-restricted-imports": ["error", { paths: nodeOnlyInServer }] },
  },
  {
    // The layers, on resolved paths: static, type-only and dynamic imports and re-exports alike.
    files: ["src/**"],
    plugins: { "import-x": importX },
    settings: { "import-x/resolver-next": [createNodeResolver()] },
    rules: {
      "import-x/no-restricted-paths": [
        "error",
        {
          basePath: root,
          zones: [
            {
              target: "src/framework",
              from: ["src/server", "src/integrations"],
              message: "framework must not import server or integrations.",
            },
            {
              target: "src/framework",
              from: "src/threading",
              except: ["./index.ts"],
              message: "framework uses carafe/threading's public entry (threading/index.ts) only.",
            },
            {
              target: "src/threading",
              from: ["src/framework", "src/server", "src/integrations"],
              message: "threading is a leaf layer.",
            },
            {
              target: "src/integrations",
              from: "src/framework",
              except: ["./index.ts"],
              message: "integrations use the framework's public exports (framework/index.ts) only.",
            },
            {
              target: "src/integrations",
              from: "src/server",
              message: "integrations use the framework's public exports (framework/index.ts) only.",
            },
            {
              target: "src/server",
              from: "src/framework",
              except: ["./internal.ts"],
              message: "the server reaches the framework through its internal.ts entry only.",
            },
            {
              target: "src/server",
              from: "src/threading",
              except: ["./internal.ts", "./boot.ts"],
              message:
                "the server reaches threading through its internal.ts entry only (boot.ts: the light part, for the supervisor).",
            },
            {
              target: "src/server",
              from: "src/integrations",
              message: "the server does not import integrations.",
            },
            {
              target: "src/security",
              from: "src/framework",
              except: ["./errors.ts"],
              message: "security uses the framework's errors (framework/errors.ts) only.",
            },
            {
              target: "src/security",
              from: ["src/server", "src/threading", "src/integrations"],
              message: "security needs node:crypto and CarafeError only.",
            },
          ],
        },
      ],
    },
  },
);
