import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { healthKey } from "./keys.ts";

/** A cheap read that proves the table answers (the health route). */
export async function pingTable(db: DynamoDBDocumentClient, table: string): Promise<void> {
  await db.send(new GetCommand({ TableName: table, Key: healthKey }));
}
