#!/usr/bin/env node
// The `steadfast` command (`npx steadfast …`): runs cli/main.ts through tsx, as the repository's
// other entry points do.
import { register } from "tsx/esm/api";

register();
const { run } = await import("./main.ts");
const code = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  tty: Boolean(process.stdout.isTTY),
});
process.exitCode = code;
