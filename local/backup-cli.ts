import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { backupTables, restoreTables } from "./backup.ts";
import type { LocalInfo } from "./runtime-types.ts";

/**
 * `npm run backup -- <file>` / `npm run restore -- <file>`: the tables of the running local
 * runtime (`npm start`), the primary region's replica, to a file and back. Restore into a fresh
 * runtime, then resume what was paused: see the README.
 */
const [command, file] = process.argv.slice(2);
if ((command !== "backup" && command !== "restore") || !file) {
  console.error("usage: npm run backup -- <file>   |   npm run restore -- <file>");
  process.exit(2);
}
const infoPath = join(process.cwd(), ".steadfast", "local.json");
if (!existsSync(infoPath)) {
  console.error("no local runtime is running here: start it with npm start");
  process.exit(1);
}
const info = JSON.parse(readFileSync(infoPath, "utf8")) as LocalInfo;
const target = { dynamodbUrl: info.dynamodbUrl, region: info.regions[0]?.name ?? "us-east-1" };
const counts = command === "backup" ? await backupTables(target, file) : await restoreTables(target, file);
for (const [table, n] of Object.entries(counts))
  console.log(`${command === "backup" ? "backed up" : "restored"} ${n} items of ${table}`);
