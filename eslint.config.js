// Lint rules, including the layer rules of the architecture: imports point one way
// (server → framework, anything → threading, integrations → public exports).
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

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
    // Scripts the examples serve to the browser.
    files: ["examples/*/static/**/*.js"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ["src/framework/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: nodeOnlyInServer,
          patterns: [
            {
              group: ["**/server/**", "**/integrations/**"],
              message: "framework must not import server or integrations.",
            },
            {
              group: ["**/threading/*", "!**/threading/index.ts"],
              message: "framework uses carafe/threading's public entry (threading/index.ts) only.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/threading/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/framework/**", "**/server/**", "**/integrations/**"],
              message: "threading is a leaf layer.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/integrations/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/framework/*", "!**/framework/index.ts", "**/server/**"],
              message: "integrations use the framework's public exports (framework/index.ts) only.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/server/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "**/framework/*",
                "!**/framework/internal.ts",
                "**/threading/*",
                "!**/threading/internal.ts",
                "**/integrations/**",
              ],
              message:
                "the server reaches the framework and threading through their internal.ts entries only.",
            },
          ],
        },
      ],
    },
  },
);
