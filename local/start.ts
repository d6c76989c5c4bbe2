import { watchLaunchers } from "./processes.ts";
import { type LocalRuntime, startLocalRuntime } from "./runtime.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm start`: runs Steadfast on local emulators until Ctrl-C, SIGTERM or SIGHUP reaches it or the
 * process that launched it (npm, its shell, tsx) goes away, then stops every child. The handlers are
 * in place before the emulators start: a signal during start-up must not leave them running.
 */
const STOP_DEADLINE_MS = 10_000;
// Undefined while the emulators start: stopping then is exiting, which kills the children started so far.
let runtime: LocalRuntime | undefined = undefined;
let stopping = false;

const shutdown = async (reason: string, exitCode = 0) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${reason}: stopping Steadfast...\n`);
  // A stop that hangs must not keep anything alive: exiting kills every child (ProcessGroup).
  setTimeout(() => process.exit(exitCode || 1), STOP_DEADLINE_MS).unref();
  try {
    await runtime?.stop();
  } finally {
    process.exit(exitCode);
  }
};
// Ctrl-C reaches npm, its shell, tsx and the runtime at once, and tsx relays it again: repeats are ignored.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(signal, () => void shutdown(signal));
watchLaunchers(() => void shutdown("launcher exited"));
process.on("uncaughtException", (error) => {
  process.stderr.write(`[steadfast] ${error.stack ?? error.message}\n`);
  void shutdown("uncaught error", 1);
});
process.on("unhandledRejection", (reason) => {
  process.stderr.write(`[steadfast] unhandled rejection: ${String(reason)}\n`);
  void shutdown("uncaught error", 1);
});
// Once the terminal or the pipe is gone, writing to it must not be what stops the stop.
process.stdout.on("error", () => undefined);
process.stderr.on("error", () => undefined);

const started = Date.now();
process.stdout.write("Steadfast: synthesizing the CDK app and starting the emulators...\n");
runtime = await startLocalRuntime({
  // The shared hostname on STEADFAST_PORT, each region's own API on the ports after it.
  ...sharedPorts(Number(process.env.STEADFAST_PORT ?? 3000)),
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
    `  API:      ${info.sharedApiUrl}  (the shared hostname: a healthy region answers)`,
    `  API key:  ${info.apiKey}`,
    `  Control:  ${info.controlUrl}  (fault injection, crashes, stats)`,
    ...info.regions.map((r) => `  ${r.name.padEnd(10)} API ${r.apiUrl}   SES inbox ${r.sesUrl}/`),
    "",
    "  Details in .steadfast/local.json; function logs in .steadfast/logs/.",
    "  Try it: npm run demo        Stop: Ctrl-C",
    "",
  ].join("\n"),
);

/** Port 0 (any free port) for everything, or the shared endpoint on `port` and the regions after it. */
function sharedPorts(port: number): { sharedApiPort: number; apiPort: number } {
  return port === 0 ? { sharedApiPort: 0, apiPort: 0 } : { sharedApiPort: port, apiPort: port + 1 };
}
