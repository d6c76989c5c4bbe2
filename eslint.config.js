// @ts-check
import js from "@eslint/js";
import vitest from "@vitest/eslint-plugin";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import { importX } from "eslint-plugin-import-x";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["node_modules/", "cdk.out/", ".steadfast/", "coverage/"] },

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    settings: {
      // Which files import-x parses to follow imports (its `typescript` preset, minus the legacy resolver).
      "import-x/extensions": [".ts", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      // Imports carry their `.ts` suffix (nodenext); the TypeScript resolver maps them to the files.
      "import-x/resolver-next": [createTypeScriptImportResolver()],
    },
    rules: {
      // A cycle makes module initialisation order matter, and tells of layers that leak into each other.
      "import-x/no-cycle": "error",

      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // Off: ports are Promise-returning interfaces, so in-memory fakes and synchronous routes are
      // `async` without awaiting anything; the rule would only ask for `Promise.resolve` wrappers.
      "@typescript-eslint/require-await": "off",
      // `_` marks a parameter or binding kept on purpose (a signature to satisfy, a field to drop).
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
    },
  },

  {
    files: ["test/**/*.ts"],
    plugins: { vitest },
    rules: {
      // A committed `.only` silently skips the rest of the suite; a committed `.skip` hides a test.
      "vitest/no-focused-tests": "error",
      "vitest/no-disabled-tests": "error",
    },
  },

  {
    // Plain JavaScript (this file, the local runtime's worker entry points) is outside the TypeScript
    // project, so rules that need type information cannot run on it.
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
