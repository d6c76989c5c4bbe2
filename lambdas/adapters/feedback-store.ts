import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { sleep } from "../shared/concurrency.ts";
import { isConditionalFailure } from "./dynamo-errors.ts";
import { cancellationCodes, type FeedbackCounter, zeroCounters } from "./suppression-store.ts";

/** The ledger item an SES message id belongs to. */
export interface LedgerRef {
  readonly pk: string;
  readonly sk: string;
  readonly campaignId: string;
  readonly email: string;
}

export interface CampaignFeedback {
  readonly status: string;
  readonly listId?: string;
  readonly counters: Record<FeedbackCounter, number>;
  readonly reputationGuard?: { reason: string; at: string };
}

export type FirstTime = "recorded" | "duplicate";

/**
 * Feedback on the delivery ledger and the campaign counters. Every counter moves together with a
 * "first time" flag on the ledger item, in one DynamoDB transaction: a duplicate event (SQS
 * delivers at least once, SES may publish twice) finds the flag set and changes nothing, and events
 * of different types are independent, so their order does not matter.
 */
export class FeedbackStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly ledgerTable: string,
    private readonly audienceTable: string,
  ) {}

  /** Looks the message up on the ledger's `bySesMessageId` index. */
  async findByMessageId(sesMessageId: string): Promise<LedgerRef | undefined> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.ledgerTable,
        IndexName: "bySesMessageId",
        KeyConditionExpression: "sesMessageId = :id",
        ExpressionAttributeValues: { ":id": sesMessageId },
        ProjectionExpression: "pk, sk, campaignId, email",
        Limit: 2,
      }),
    );
    const item = out.Items?.[0];
    if (!item) return undefined;
    return { pk: item.pk, sk: item.sk, campaignId: item.campaignId, email: item.email };
  }

  /**
   * Sets `flag` (and `sets`) on the ledger item unless the flag is already there, and in the same
   * transaction adds one to the campaign's `feedback.<counter>`. The campaign's counter map must
   * exist (SuppressionStore.ensureCounters).
   */
  async recordFirst(
    ref: LedgerRef,
    flag: string,
    at: string,
    sets: Readonly<Record<string, string>>,
    counter: FeedbackCounter,
  ): Promise<FirstTime> {
    const ledger = this.ledgerUpdate(ref, { [flag]: at, ...sets }, flag);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: ledger },
              {
                Update: {
                  TableName: this.audienceTable,
                  Key: { pk: `CAMPAIGN#${ref.campaignId}`, sk: "#META" },
                  UpdateExpression: "ADD #feedback.#counter :one",
                  ConditionExpression: "attribute_exists(pk)",
                  ExpressionAttributeNames: { "#feedback": "feedback", "#counter": counter },
                  ExpressionAttributeValues: { ":one": 1 },
                },
              },
            ],
          }),
        );
        return "recorded";
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes?.[0] === "ConditionalCheckFailed") return "duplicate";
        if (codes?.[1] === "ConditionalCheckFailed") {
          // The campaign is gone: keep the record on the ledger item, there is nothing to count on.
          return (await this.recordIfAbsent(ledger)) ? "recorded" : "duplicate";
        }
        // Every event of a campaign updates the campaign item: concurrent transactions on it are
        // refused with TransactionConflict rather than queued. Back off and try again.
        const conflict =
          codes?.includes("TransactionConflict") || (error as Error)?.name === "TransactionConflictException";
        if (!conflict || attempt >= 8) throw error;
        await sleep(Math.random() * 25 * 2 ** attempt);
      }
    }
  }

  /** Records attributes on the ledger item every time (the latest value wins). */
  async recordAlways(ref: LedgerRef, sets: Readonly<Record<string, string>>): Promise<void> {
    await this.recordIfAbsent(this.ledgerUpdate(ref, sets));
  }

  async campaign(id: string): Promise<CampaignFeedback | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.audienceTable,
        Key: { pk: `CAMPAIGN#${id}`, sk: "#META" },
        ConsistentRead: true,
        ProjectionExpression: "#status, listId, #feedback, reputationGuard",
        ExpressionAttributeNames: { "#status": "status", "#feedback": "feedback" },
      }),
    );
    if (!out.Item) return undefined;
    return {
      status: out.Item.status,
      ...(out.Item.listId ? { listId: out.Item.listId } : {}),
      counters: { ...zeroCounters(), ...(out.Item.feedback ?? {}) },
      ...(out.Item.reputationGuard ? { reputationGuard: out.Item.reputationGuard } : {}),
    };
  }

  /** Records that the reputation guard tripped; true only the first time for a campaign. */
  async markGuardTripped(id: string, reason: string, at: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.audienceTable,
          Key: { pk: `CAMPAIGN#${id}`, sk: "#META" },
          UpdateExpression: "SET reputationGuard = :guard",
          ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(reputationGuard)",
          ExpressionAttributeValues: { ":guard": { reason: reason.slice(0, 200), at } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  /** `subscribed → bounced | complained` on one list; other statuses are left as they are. */
  async markSubscriber(
    listId: string,
    email: string,
    status: "bounced" | "complained",
    at: string,
  ): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.audienceTable,
          Key: { pk: `LIST#${listId}`, sk: `SUB#${email}` },
          UpdateExpression: "SET #status = :status, updatedAt = :at",
          ConditionExpression: "#status = :subscribed",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":status": status, ":subscribed": "subscribed", ":at": at },
        }),
      );
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }

  private ledgerUpdate(ref: LedgerRef, sets: Readonly<Record<string, string>>, absentFlag?: string) {
    const names: Record<string, string> = {};
    const values: Record<string, string> = {};
    const parts = Object.entries(sets).map(([key, value], i) => {
      names[`#a${i}`] = key;
      values[`:v${i}`] = value;
      return `#a${i} = :v${i}`;
    });
    let condition = "attribute_exists(pk)";
    if (absentFlag) {
      names["#flag"] = absentFlag;
      condition += " AND attribute_not_exists(#flag)";
    }
    return {
      TableName: this.ledgerTable,
      Key: { pk: ref.pk, sk: ref.sk },
      UpdateExpression: `SET ${parts.join(", ")}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  private async recordIfAbsent(update: ReturnType<FeedbackStore["ledgerUpdate"]>): Promise<boolean> {
    try {
      await this.db.send(new UpdateCommand(update));
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }
}
