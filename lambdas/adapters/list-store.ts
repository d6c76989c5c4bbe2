import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { transactWrite } from "./dynamo/batch.ts";
import type { Page } from "./dynamo/cursor.ts";
import { allIndexed, createIndexed, oneItem, pageIndexed } from "./dynamo/indexed.ts";
import { isCancelledByCondition, isConditionalFailure } from "./dynamo/errors.ts";
import { ERASURE_PK, erasureKey, listIndexKey, listKey, LISTS_PK } from "./dynamo/keys.ts";
import {
  CONFIRMATION_HISTORY,
  type ConfirmationEmail,
  nextConfirmation,
  type OptIn,
} from "../domain/opt-in.ts";

export interface MailingList {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  /** Absent on lists from before double opt-in: single. */
  readonly optIn?: OptIn;
  /** The confirmation email now (double opt-in lists). */
  readonly confirmation?: ConfirmationEmail;
  /** The last versions of the confirmation email, the current one included (consent records quote them). */
  readonly confirmationHistory?: readonly (ConfirmationEmail & { readonly at: string })[];
}

/** What PATCH may change; `confirmation` parts left out keep their value. */
export interface ListChanges {
  readonly name?: string;
  readonly optIn?: OptIn;
  readonly confirmation?: Partial<Omit<ConfirmationEmail, "version">>;
}

/**
 * Lists, their paging index and their erasure records, in the audience table. The only writer of
 * `LIST#<id>/#META`, `LISTS` and `ERASURE` items (see dynamo/keys.ts). A list's subscribers are
 * SubscriberStore's.
 */
export class ListStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(list: MailingList): Promise<void> {
    await createIndexed(
      this.db,
      this.table,
      { key: listKey(list.id), item: { type: "list", ...list } },
      { key: listIndexKey(list.createdAt, list.id), type: "list-index", id: list.id },
    );
  }

  /** A list; `consistent` where a list deleted a moment ago must already be gone. */
  async get(id: string, consistent = false): Promise<MailingList | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: listKey(id), ConsistentRead: consistent }),
    );
    return out.Item ? toList(out.Item) : undefined;
  }

  /** Lists, newest first: a page of the index, each entry resolved to its list in one BatchGet. */
  page(limit: number, cursor?: string): Promise<Page<MailingList>> {
    return pageIndexed(this.db, this.table, LISTS_PK, oneItem(listKey, toList), limit, cursor);
  }

  /** Every list, newest first (the preference center and a person's export look at each). */
  async all(): Promise<MailingList[]> {
    return allIndexed(this.db, this.table, LISTS_PK, oneItem(listKey, toList));
  }

  /**
   * Changes a list's name, opt-in mode or confirmation email; a change to the email is a new
   * version, kept in the history. Undefined when there is no such list; "conflict" when another
   * change to the email landed between the read and the write.
   */
  async update(id: string, changes: ListChanges, now: string): Promise<MailingList | "conflict" | undefined> {
    const current = await this.get(id, true);
    if (!current) return undefined;
    const sets = ["updatedAt = :now"];
    const values: Record<string, unknown> = { ":now": now };
    const names: Record<string, string> = {};
    let condition = "attribute_exists(pk)";
    if (changes.name !== undefined) {
      sets.push("#name = :name");
      names["#name"] = "name";
      values[":name"] = changes.name;
    }
    if (changes.optIn !== undefined) {
      sets.push("optIn = :optIn");
      values[":optIn"] = changes.optIn;
    }
    const optIn = changes.optIn ?? current.optIn ?? "single";
    if (changes.confirmation || (optIn === "double" && !current.confirmation)) {
      const confirmation = nextConfirmation(current.confirmation, changes.confirmation ?? {});
      sets.push("confirmation = :confirmation", "confirmationHistory = :history");
      values[":confirmation"] = confirmation;
      values[":history"] = [...(current.confirmationHistory ?? []), { ...confirmation, at: now }].slice(
        -CONFIRMATION_HISTORY,
      );
      if (current.confirmation) {
        condition += " AND confirmation.version = :version";
        values[":version"] = current.confirmation.version;
      } else condition += " AND attribute_not_exists(confirmation)";
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: listKey(id),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: condition,
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return toList(out.Attributes ?? {});
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      return (await this.get(id, true)) ? "conflict" : undefined;
    }
  }

  /**
   * Deletes a list and records that its subscribers must be erased (GDPR Art. 17), in one
   * transaction: the erasure record is the durable to-do that the audience-jobs function works off,
   * so the data is erased even if the process dies right after this call. False when there is no
   * such list.
   */
  async delete(list: MailingList, now: string): Promise<boolean> {
    try {
      await transactWrite(this.db, [
        {
          Delete: {
            TableName: this.table,
            Key: listKey(list.id),
            ConditionExpression: "attribute_exists(pk)",
          },
        },
        { Delete: { TableName: this.table, Key: listIndexKey(list.createdAt, list.id) } },
        {
          Put: {
            TableName: this.table,
            Item: { ...erasureKey(list.id), type: "erasure", requestedAt: now, enqueuedAt: now },
          },
        },
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /** Lists whose erasure was last enqueued before `before` and is not finished (for the scheduler). */
  async pendingErasures(before: string): Promise<string[]> {
    const ids: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          FilterExpression: "enqueuedAt < :before",
          ExpressionAttributeValues: { ":pk": ERASURE_PK, ":before": before },
          ExclusiveStartKey: start,
        }),
      );
      ids.push(...(out.Items ?? []).map((item) => item.sk as string));
      start = out.LastEvaluatedKey;
    } while (start);
    return ids;
  }

  async markErasureEnqueued(listId: string, now: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: erasureKey(listId),
          UpdateExpression: "SET enqueuedAt = :now",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":now": now },
        }),
      );
    } catch (error) {
      if (!isConditionalFailure(error)) throw error; // finished meanwhile: nothing to mark
    }
  }

  /** The erasure of `listId` is done: its record goes. */
  async finishErasure(listId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: erasureKey(listId) }));
  }
}

function toList(item: Record<string, unknown>): MailingList {
  return {
    id: item.id as string,
    name: item.name as string,
    createdAt: item.createdAt as string,
    ...(item.optIn ? { optIn: item.optIn as OptIn } : {}),
    ...(item.confirmation ? { confirmation: item.confirmation as ConfirmationEmail } : {}),
    ...(item.confirmationHistory
      ? { confirmationHistory: item.confirmationHistory as MailingList["confirmationHistory"] & object }
      : {}),
  };
}
