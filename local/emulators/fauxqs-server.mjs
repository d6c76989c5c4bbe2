// Runs the fauxqs SQS emulator in its own process so that it can be stopped like a real server.
import { startFauxqs } from "fauxqs";

const port = Number(process.argv[2]);
const server = await startFauxqs({ port, logger: false, host: "127.0.0.1" });
process.on("SIGTERM", () => server.stop().finally(() => process.exit(0)));
process.on("SIGINT", () => server.stop().finally(() => process.exit(0)));
