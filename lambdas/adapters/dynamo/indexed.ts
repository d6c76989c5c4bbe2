import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { batchGetAll, transactWrite } from "./batch.ts";
import { decodeKeyCursor, encodeKeyCursor, type Page } from "./cursor.ts";
import type { Key } from "./keys.ts";
import { queryAll } from "./query.ts";

/**
 * Entities kept beside a paging index (lists in `LISTS`, segments in `SEGMENTS`, campaigns in
 * `CAMPAIGNS`): each entity has an index entry `<createdAt>#<id>` holding its id, written in one
 * transaction with it, so the index lists entities newest first. The stores of those entities use
 * these functions.
 */
export async function createIndexed(
  db: DynamoDBDocumentClient,
  table: string,
  entity: { readonly key: Key; readonly item: Record<string, unknown> },
  index: { readonly key: Key; readonly type: string; readonly id: string },
  /** More items of the entity, created with it (none may exist yet). */
  alsoCreate: readonly { readonly key: Key; readonly item: Record<string, unknown> }[] = [],
): Promise<void> {
  await transactWrite(db, [
    ...alsoCreate.map(({ key, item }) => ({
      Put: { TableName: table, Item: { ...key, ...item }, ConditionExpression: "attribute_not_exists(pk)" },
    })),
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

type Item = Record<string, unknown>;

/** How an index entry's id becomes its entity. */
export interface IndexedEntity<T> {
  /** The items the entity is made of. */
  readonly keysOf: (id: string) => readonly Key[];
  /** The entity from its items, in `keysOf`'s order; undefined leaves it out (gone, or filtered out). */
  readonly build: (items: readonly (Item | undefined)[]) => T | undefined;
}

/** An entity held in one item. */
export function oneItem<T>(keyOf: (id: string) => Key, toEntity: (item: Item) => T): IndexedEntity<T> {
  return {
    keysOf: (id) => [keyOf(id)],
    build: ([item]) => (item ? toEntity(item) : undefined),
  };
}

/** A page of the index `indexPk`, newest first, its entities read in BatchGets. */
export async function pageIndexed<T>(
  db: DynamoDBDocumentClient,
  table: string,
  indexPk: string,
  entity: IndexedEntity<T>,
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
  const items = await resolve(db, table, (out.Items ?? []).map(idOf), entity);
  const nextCursor = encodeKeyCursor(out.LastEvaluatedKey);
  return { items, ...(nextCursor ? { nextCursor } : {}) };
}

/** Every entity of the index `indexPk`, newest first (for indexes that stay small, such as lists). */
export async function allIndexed<T>(
  db: DynamoDBDocumentClient,
  table: string,
  indexPk: string,
  entity: IndexedEntity<T>,
): Promise<T[]> {
  const index = await queryAll(db, {
    TableName: table,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": indexPk },
    ScanIndexForward: false,
  });
  return resolve(db, table, index.map(idOf), entity);
}

function idOf(entry: Item): string {
  return entry.id as string;
}

async function resolve<T>(
  db: DynamoDBDocumentClient,
  table: string,
  ids: readonly string[],
  entity: IndexedEntity<T>,
): Promise<T[]> {
  const found = await batchGetAll(db, table, ids.flatMap(entity.keysOf), { consistent: true });
  const byKey = new Map(found.map((item) => [`${String(item.pk)}/${String(item.sk)}`, item]));
  return ids.flatMap((id) => {
    const built = entity.build(entity.keysOf(id).map((key) => byKey.get(`${key.pk}/${key.sk}`)));
    return built === undefined ? [] : [built];
  });
}
