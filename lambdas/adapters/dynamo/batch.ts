import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { chunk, mapLimit, sleep } from "../../shared/concurrency.ts";
import { untilProcessed } from "../../shared/retry.ts";
import { isTransactionConflict } from "./errors.ts";
import type { Key } from "./keys.ts";

type Item = Record<string, unknown>;

export interface BatchGetOptions {
  readonly consistent?: boolean;
  readonly projection?: string;
  readonly names?: Record<string, string>;
}

/**
 * Reads every key (100 per request), retrying the keys DynamoDB leaves unprocessed until all are
 * read; a key with no item is simply absent from the result. Never returns a partial answer.
 */
export async function batchGetAll(
  db: DynamoDBDocumentClient,
  table: string,
  keys: readonly Key[],
  options: BatchGetOptions = {},
): Promise<Item[]> {
  const found: Item[] = [];
  for (const group of chunk(keys, 100)) {
    await untilProcessed<Item>(`BatchGetItem on ${table}`, group, async (pending) => {
      const out = await db.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: [...pending],
              ...(options.consistent ? { ConsistentRead: true } : {}),
              ...(options.projection ? { ProjectionExpression: options.projection } : {}),
              ...(options.names ? { ExpressionAttributeNames: options.names } : {}),
            },
          },
        }),
      );
      found.push(...(out.Responses?.[table] ?? []));
      return (out.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
    });
  }
  return found;
}

export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Key } };

/** Writes every request (25 per call, `parallel` calls at once), retrying what is left unprocessed. */
export async function batchWriteAll(
  db: DynamoDBDocumentClient,
  table: string,
  requests: readonly WriteRequest[],
  parallel = 4,
): Promise<void> {
  await mapLimit(chunk(requests, 25), parallel, (group) =>
    untilProcessed<WriteRequest>(`BatchWriteItem on ${table}`, group, async (pending) => {
      const out = await db.send(new BatchWriteCommand({ RequestItems: { [table]: [...pending] as never } }));
      return (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
    }),
  );
}

export type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * Runs a transaction, retrying it when it collides with another transaction on the same item
 * (DynamoDB refuses such a transaction instead of queueing it). Every other error, a failed
 * condition included, is the caller's to read.
 */
export async function transactWrite(
  db: DynamoDBDocumentClient,
  items: readonly TransactItem[],
  conflictRetries = 8,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await db.send(new TransactWriteCommand({ TransactItems: [...items] }));
      return;
    } catch (error) {
      if (!isTransactionConflict(error) || attempt >= conflictRetries) throw error;
      await sleep(Math.random() * 25 * 2 ** attempt);
    }
  }
}
