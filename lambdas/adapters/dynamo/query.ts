import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";

type Item = Record<string, unknown>;

/**
 * Every item a query matches, page after page; `enough` stops early once the caller has what it
 * needs (the last page read is kept whole).
 */
export async function queryAll(
  db: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, "ExclusiveStartKey">,
  enough: (items: readonly Item[]) => boolean = () => false,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out = await db.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start && !enough(items));
  return items;
}

/** Every item of partition `pk` whose sort key begins with `prefix` (strongly consistent by default). */
export function queryPrefix(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
  prefix: string,
  consistent = true,
): Promise<Item[]> {
  return queryAll(db, {
    TableName: table,
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
    ExpressionAttributeValues: { ":pk": pk, ":prefix": prefix },
    ConsistentRead: consistent,
  });
}
