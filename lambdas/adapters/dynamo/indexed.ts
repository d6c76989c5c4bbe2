import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { batchGetAll, transactWrite } from "./batch.ts";
import { decodeKeyCursor, encodeKeyCursor, type Page } from "./cursor.ts";
import type { Key } from "./keys.ts";

/**
 * Entities kept beside a paging index (lists in `LISTS`, segments in `SEGMENTS`): each entity item
 * has an index entry `<createdAt>#<id>` holding its id, written in one transaction with it, so the
 * index lists entities newest first. The stores of those entities use these two functions.
 */
export async function createIndexed(
  db: DynamoDBDocumentClient,
  table: string,
  entity: { readonly key: Key; readonly item: Record<string, unknown> },
  index: { readonly key: Key; readonly type: string; readonly id: string },
): Promise<void> {
  await transactWrite(db, [
    {
      Put: {
        TableName: table,
        Item: { ...entity.key, ...entity.item },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    },
    { Put: { TableName: table, Item: { ...index.key, type: index.type, id: index.id } } },
  ]);
}

/** A page of the index `indexPk`, newest first, each entry resolved to its entity in one BatchGet. */
export async function pageIndexed<T>(
  db: DynamoDBDocumentClient,
  table: string,
  indexPk: string,
  entityKey: (id: string) => Key,
  toEntity: (item: Record<string, unknown>) => T,
  limit: number,
  cursor?: string,
): Promise<Page<T>> {
  const out = await db.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": indexPk },
      ExclusiveStartKey: decodeKeyCursor(cursor, indexPk),
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  const ids = (out.Items ?? []).map((item) => item.id as string);
  const found = new Map(
    (await batchGetAll(db, table, ids.map(entityKey), { consistent: true })).map((item) => [
      item.id as string,
      toEntity(item),
    ]),
  );
  const nextCursor = encodeKeyCursor(out.LastEvaluatedKey);
  return { items: ids.flatMap((id) => found.get(id) ?? []), ...(nextCursor ? { nextCursor } : {}) };
}
