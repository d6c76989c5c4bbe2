import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LOCAL_CREDENTIALS } from "./local-account.ts";
import type { LocalRuntime } from "./runtime-types.ts";

/**
 * A DynamoDB document client on one region's replica of the tables (the first region's unless
 * told), for tests, benchmarks and setup scripts that look at or seed the tables directly. What it
 * writes reaches the other regions' replicas by replication, like any write.
 */
export function localDocumentClient(
  runtime: Pick<LocalRuntime, "endpoints" | "info" | "replication">,
  region: string = runtime.info.regions[0]?.name ?? "us-east-1",
): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region,
    endpoint: runtime.endpoints.dynamodb,
    credentials: LOCAL_CREDENTIALS,
  });
  // Its writes are read from the replica's streams at once, as the region's functions' are.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const output = await next(args);
      if (
        /^(Put|Update|Delete|BatchWrite|TransactWrite|ExecuteStatement|BatchExecute|ExecuteTransaction)/.test(
          context.commandName ?? "",
        )
      )
        runtime.replication.nudge(region);
      return output;
    },
    { step: "initialize", name: "nudgeReplication" },
  );
  return DynamoDBDocumentClient.from(client);
}

/**
 * A DynamoDB document client on the strongly consistent (coordination) tables as one region's
 * functions reach them: through that region's DynamoDB endpoint, so that the region's faults (its
 * DynamoDB down or failing, the whole region down) cut it off, signed with the coordination
 * store's region. `coordination` is the runtime's, or one provisioned by hand.
 */
export function coordinationClient(
  runtime: Pick<LocalRuntime, "regions" | "coordination">,
  region: string,
): DynamoDBDocumentClient {
  const through = runtime.regions.find((r) => r.name === region);
  if (!through) throw new Error(`no region ${region} in the local runtime`);
  if (!runtime.coordination) throw new Error("the app declares no strongly consistent table");
  const client = new DynamoDBClient({
    region: runtime.coordination.region,
    endpoint: through.proxies.dynamodb.url,
    credentials: LOCAL_CREDENTIALS,
  });
  return DynamoDBDocumentClient.from(client);
}
