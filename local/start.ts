import { startLocalRuntime } from "./runtime.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm start`: runs Steadfast on local emulators until Ctrl-C or SIGTERM, then stops every child.
 */
const started = Date.now();
process.stdout.write("Steadfast: synthesizing the CDK app and starting the emulators...\n");
const runtime = await startLocalRuntime({
  apiPort: Number(process.env.STEADFAST_PORT ?? 3000),
  onWarning: (message) => {
    if (process.env.STEADFAST_VERBOSE) process.stderr.write(`[steadfast] ${message}\n`);
  },
});
const { info } = runtime;
process.stdout.write(
  [
    "",
    `Steadfast is running locally (ready in ${((Date.now() - started) / 1000).toFixed(1)} s).`,
    "",
    `  API:      ${info.apiUrl}`,
    `  API key:  ${info.apiKey}`,
    `  Control:  ${info.controlUrl}  (fault injection, crashes, stats)`,
    ...info.regions.map((r) => `  ${r.name.padEnd(10)} API ${r.apiUrl}   SES inbox ${r.sesUrl}/`),
    "",
    "  Details in .steadfast/local.json; function logs in .steadfast/logs/.",
    "  Try it: npm run demo        Stop: Ctrl-C",
    "",
  ].join("\n"),
);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping Steadfast...\n`);
  await runtime.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
