import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { senderBudgetKey } from "./dynamo/keys.ts";

/** What a region's senders share: how many are sending, and the region's rate learned from 429s. */
export interface BudgetView {
  /** Senders checked in and not expired, this one included. */
  readonly senders: number;
  /** The region's whole rate (emails per second) at which SES last said 429, and when. */
  readonly learned?: { readonly rate: number; readonly at: number };
}

/** A sender's attribute on the item: its id, expiring at the value (epoch ms). */
const SENDER_PREFIX = "sender_";

/**
 * The region's sending budget as its concurrent senders see it together (`SENDERS#<region>` /
 * `#BUDGET`, one item per region, written only by that region's senders): each sender checks in
 * (an attribute of its own, holding when it expires) at the start of an invocation and every
 * second while it sends, and its check-in runs out a few seconds after it stopped. It does not
 * check out at an invocation's end: measured in the bench, that lowered the quota utilisation
 * (0.58-0.77 against 0.73-0.87). The count of live check-ins divides the region's rate. A sender
 * that learned the region's real rate from a 429 records it, so that the others, and containers
 * that start later, begin just under it instead of finding it again.
 */
export class SenderBudgetStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    /** The region this function runs in: the only item it writes. */
    private readonly region: string,
  ) {}

  /**
   * Checks `sender` in until `untilMs`, records `learned` when given, forgets check-ins that
   * expired (`expired`, from the last view), and returns the region's view.
   */
  async checkIn(
    sender: string,
    nowMs: number,
    untilMs: number,
    options: { learned?: BudgetView["learned"]; expired?: readonly string[] } = {},
  ): Promise<BudgetView & { expired: string[] }> {
    const names: Record<string, string> = { "#me": `${SENDER_PREFIX}${sender}` };
    const values: Record<string, unknown> = { ":until": untilMs };
    const sets = ["#me = :until"];
    if (options.learned) {
      sets.push("learnedRate = :rate", "learnedAt = :at");
      values[":rate"] = options.learned.rate;
      values[":at"] = options.learned.at;
    }
    const removes = (options.expired ?? []).slice(0, 20).map((name, i) => {
      names[`#x${i}`] = name;
      return `#x${i}`;
    });
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: senderBudgetKey(this.region),
        UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: "ALL_NEW",
      }),
    );
    return readView(out.Attributes ?? {}, nowMs);
  }
}

function readView(item: Record<string, unknown>, nowMs: number): BudgetView & { expired: string[] } {
  let senders = 0;
  const expired: string[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(SENDER_PREFIX)) continue;
    if (Number(value) > nowMs) senders++;
    else expired.push(name);
  }
  const rate = Number(item.learnedRate);
  const at = Number(item.learnedAt);
  return {
    senders: Math.max(1, senders),
    expired,
    ...(rate > 0 && at > 0 ? { learned: { rate, at } } : {}),
  };
}
