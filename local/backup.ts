import { createReadStream, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DynamoDBClient,
  ListTablesCommand,
  paginateScan,
} from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS } from "./local-account.ts";

/** One region's replica of the tables of a running local runtime. */
export interface BackupTarget {
  readonly dynamodbUrl: string;
  readonly region: string;
}

type Item = Record<string, AttributeValue>;

/** Counts of items by table. */
export type TableCounts = Record<string, number>;

const client = (target: BackupTarget) =>
  new DynamoDBClient({ region: target.region, endpoint: target.dynamodbUrl, credentials: LOCAL_CREDENTIALS });

/**
 * Writes every item of every table of the region's replica to `file`, one JSON line
 * `{ "table", "item" }` per item in DynamoDB's own attribute-value form (binary as base64), so a
 * restore gives back exactly what was there. Like an AWS backup, it is a copy of the tables only:
 * what waits in queues and the owners' leases (soft state) are not in it.
 */
export async function backupTables(target: BackupTarget, file: string): Promise<TableCounts> {
  const db = client(target);
  const counts: TableCounts = {};
  const lines: string[] = [];
  const tables = (await db.send(new ListTablesCommand({}))).TableNames ?? [];
  for (const table of tables) {
    counts[table] = 0;
    // Strongly consistent: a backup taken after a write holds it.
    for await (const page of paginateScan({ client: db }, { TableName: table, ConsistentRead: true })) {
      for (const item of page.Items ?? []) {
        lines.push(JSON.stringify({ table, item }, encodeBinary));
        counts[table] += 1;
      }
    }
  }
  writeFileSync(file, lines.length ? `${lines.join("\n")}\n` : "");
  db.destroy();
  return counts;
}

/**
 * Writes every item of a backup into the region's replica (the tables must exist: a fresh runtime
 * has them); the other regions' replicas get them by replication, as on AWS after a restore into a
 * global table. Items already there are overwritten.
 */
export async function restoreTables(target: BackupTarget, file: string): Promise<TableCounts> {
  const db = client(target);
  const counts: TableCounts = {};
  const pending = new Map<string, Item[]>();
  const flush = async (table: string) => {
    let requests = (pending.get(table) ?? []).map((item) => ({ PutRequest: { Item: item } }));
    pending.set(table, []);
    while (requests.length > 0) {
      const out = await db.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
      requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
      if (requests.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
  };
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const { table, item } = JSON.parse(line, decodeBinary) as { table: string; item: Item };
    const batch = pending.get(table) ?? [];
    batch.push(item);
    pending.set(table, batch);
    counts[table] = (counts[table] ?? 0) + 1;
    if (batch.length === 25) await flush(table);
  }
  for (const table of pending.keys()) await flush(table);
  db.destroy();
  return counts;
}

function encodeBinary(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $base64: Buffer.from(value).toString("base64") };
  // A Buffer has been through its toJSON by the time it gets here.
  const json = value as { type?: unknown; data?: unknown };
  if (json && json.type === "Buffer" && Array.isArray(json.data))
    return { $base64: Buffer.from(json.data as number[]).toString("base64") };
  return value;
}

function decodeBinary(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && "$base64" in value) {
    return new Uint8Array(Buffer.from(String((value as { $base64: string }).$base64), "base64"));
  }
  return value;
}
