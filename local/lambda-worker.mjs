// One emulated Lambda execution environment: loads a function's built asset once, then runs one
// invocation at a time on request of the local runtime (over the IPC channel).
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const [modulePath, handlerName, functionName, timeoutMs, memoryMb, accountId] = process.argv.slice(2);
const mod = await import(pathToFileURL(modulePath).href);
const handler = mod[handlerName];
if (typeof handler !== "function") {
  process.stderr.write(`handler ${handlerName} not exported by ${modulePath}\n`);
  process.exit(1);
}

process.on("message", async (message) => {
  const deadline = Date.now() + Number(timeoutMs);
  const context = {
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:${accountId}:function:${functionName}`,
    memoryLimitInMB: memoryMb,
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handler(message.event, context);
    process.send({ id: message.id, ok: true, result: result ?? null });
  } catch (error) {
    process.send({
      id: message.id,
      ok: false,
      error: { name: error?.name ?? "Error", message: String(error?.message ?? error) },
    });
  }
});
// The runtime gone (even killed outright), its execution environments go with it.
process.on("disconnect", () => process.exit(0));
process.send({ ready: true });
