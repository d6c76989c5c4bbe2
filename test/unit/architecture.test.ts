import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { posix } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The layering the folders promise, checked on the import statements of the source:
 * - `lambdas/domain/` is pure: node builtins, its own files and the contracts only, no SDK, no
 *   package, no adapter;
 * - `lambdas/contracts/` (names and message schemas shared by lib/, lambdas/ and local/) depends on
 *   nothing but zod and itself;
 * - a function folder (a folder of `lambdas/` with a `handler.ts`) imports no other function's
 *   folder, and the shared folders (every other folder of `lambdas/`) import no function folder:
 *   what two functions share lives in a shared folder;
 * - `local/` runs the synthesized CDK assembly, so it never imports the CDK source in `lib/`.
 */

interface Import {
  /** Importing file, relative to the repository root. */
  file: string;
  specifier: string;
  /** For a relative specifier, the imported path relative to the repository root. */
  target?: string;
}

const ROOT = new URL("../../", import.meta.url);
const SOURCE = /\.(ts|mjs|js)$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(new URL(dir, ROOT), { recursive: true, encoding: "utf8" })
    .filter((name) => SOURCE.test(name))
    .map((name) => posix.join(dir, name.replaceAll("\\", "/")));
}

function importsOf(file: string): Import[] {
  // preProcessFile sees static imports, `import type`, re-exports and literal dynamic imports.
  const { importedFiles } = ts.preProcessFile(readFileSync(new URL(file, ROOT), "utf8"), true, true);
  return importedFiles.map(({ fileName: specifier }) => ({
    file,
    specifier,
    ...(specifier.startsWith(".") ? { target: posix.join(posix.dirname(file), specifier) } : {}),
  }));
}

const within = (path: string | undefined, folder: string) => !!path?.startsWith(`${folder}/`);
const folderOf = (path: string | undefined) => (within(path, "lambdas") ? path?.split("/")[1] : undefined);
const isBuiltin = (specifier: string) => specifier.startsWith("node:") || builtinModules.includes(specifier);
const describeImport = ({ file, specifier }: Import) => `${file} imports "${specifier}"`;

const FUNCTIONS = readdirSync(new URL("lambdas/", ROOT), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(new URL(`lambdas/${entry.name}/handler.ts`, ROOT)))
  .map((entry) => entry.name);

const rules = {
  "domain imports only node builtins, domain files and the contracts": (i: Import) =>
    within(i.file, "lambdas/domain") &&
    !isBuiltin(i.specifier) &&
    !within(i.target, "lambdas/domain") &&
    !within(i.target, "lambdas/contracts"),
  "contracts import only zod and the contracts": (i: Import) =>
    within(i.file, "lambdas/contracts") && i.specifier !== "zod" && !within(i.target, "lambdas/contracts"),
  "a function folder imports no other function's folder": (i: Import) =>
    FUNCTIONS.includes(folderOf(i.file) ?? "") &&
    FUNCTIONS.includes(folderOf(i.target) ?? "") &&
    folderOf(i.file) !== folderOf(i.target),
  "a shared folder of lambdas/ imports no function folder": (i: Import) =>
    within(i.file, "lambdas") &&
    !FUNCTIONS.includes(folderOf(i.file) ?? "") &&
    FUNCTIONS.includes(folderOf(i.target) ?? ""),
  "local/ imports nothing from lib/": (i: Import) => within(i.file, "local") && within(i.target, "lib"),
};

const violations = (imports: Import[], rule: (i: Import) => boolean) =>
  imports.filter(rule).map(describeImport);

const files = [...sourceFiles("lambdas"), ...sourceFiles("local")];
const imports = files.flatMap(importsOf);

describe("architecture", () => {
  it("sees the source and its imports", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(FUNCTIONS).toEqual(
      expect.arrayContaining(["api", "fanout", "sender", "scheduler", "feedback", "audience-jobs"]),
    );
    expect(imports.filter((i) => within(i.file, "lambdas/domain")).length).toBeGreaterThan(0);
    expect(imports.some((i) => i.file.endsWith("/handler.ts") && within(i.target, "lambdas"))).toBe(true);
    // Each rule catches a made-up offender, so a rule that never fires is not mistaken for a clean tree.
    const offenders: Import[] = [
      { file: "lambdas/domain/x.ts", specifier: "@aws-sdk/client-sqs" },
      { file: "lambdas/contracts/x.ts", specifier: "../domain/y.ts", target: "lambdas/domain/y.ts" },
      { file: "lambdas/api/x.ts", specifier: "../sender/y.ts", target: "lambdas/sender/y.ts" },
      { file: "lambdas/adapters/x.ts", specifier: "../api/y.ts", target: "lambdas/api/y.ts" },
      { file: "local/x.ts", specifier: "../lib/y.ts", target: "lib/y.ts" },
    ];
    for (const rule of Object.values(rules)) expect(violations(offenders, rule)).toHaveLength(1);
  });

  it.each(Object.entries(rules))("%s", (_name, rule) => {
    expect(violations(imports, rule)).toEqual([]);
  });
});
