import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { LEDGER_INDEX } from "../contracts/tables.ts";
import { ENGAGEMENT_LIMIT } from "../domain/engagement.ts";
import { mapLimit } from "../shared/concurrency.ts";
import { batchGetAll, type TransactItem, transactWrite } from "./dynamo/batch.ts";
import { updateIf } from "./dynamo/conditional.ts";
import { cancellationCodes } from "./dynamo/errors.ts";
import { type Key, ledgerKey } from "./dynamo/keys.ts";
import {
  type Entry,
  eventUpdate,
  factsByItem,
  type FirstFact,
  type FirstTime,
  type LedgerRef,
  transactionGroups,
} from "./ledger-items.ts";

/** An SES message as its events name it: its id, and the campaign tag and recipient it was sent with. */
export interface SesMessageRef {
  readonly messageId: string;
  readonly campaignId?: string;
  readonly email?: string;
}

/** Index look-ups in flight at once. */
const LOOKUPS = 16;

/**
 * The ledger's SES feedback: finding the item of a reported message, and recording what SES
 * reported on it. Writer: the region that processes the item's SES events, once the item is
 * terminal (ledger-store.ts has the rest of the item's life).
 */
export class LedgerFeedback {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * The ledger item of each SES message, or undefined where there is none (yet). SES reports a
   * message with its tags (the `campaign` tag) and recipient, which name the item: those are read in
   * one strongly consistent BatchGetItem and accepted when the item holds the message's id (written
   * with the terminal record, so an event never acts on an item its sender still writes). Events
   * without the tag, or whose item holds another message's id (a retried recipient), are looked up
   * by id in the `bySesMessageId` index.
   */
  async findAll(messages: readonly SesMessageRef[]): Promise<(LedgerRef | undefined)[]> {
    const named = messages.map((m) =>
      m.campaignId && m.email ? ledgerKey(m.campaignId, m.email) : undefined,
    );
    const items = await batchGetAll(
      this.db,
      this.table,
      uniqueKeys(named.filter((key): key is Key => key !== undefined)),
      { consistent: true, projection: "pk, sk, campaignId, email, sesMessageId" },
    );
    const byKey = new Map(items.map((item) => [`${item.pk as string}|${item.sk as string}`, item]));
    return mapLimit(messages, LOOKUPS, async (message, i) => {
      const key = named[i];
      const item = key ? byKey.get(`${key.pk}|${key.sk}`) : undefined;
      if (item && item.sesMessageId === message.messageId) return toRef(item);
      return this.findByMessageId(message.messageId);
    });
  }

  /** The item an SES message id belongs to, from the `bySesMessageId` index (eventually consistent). */
  private async findByMessageId(sesMessageId: string): Promise<LedgerRef | undefined> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: LEDGER_INDEX.bySesMessageId,
        KeyConditionExpression: "sesMessageId = :id",
        ExpressionAttributeValues: { ":id": sesMessageId },
        ProjectionExpression: "pk, sk, campaignId, email",
        Limit: 2,
      }),
    );
    const item = out.Items?.[0];
    return item ? toRef(item) : undefined;
  }

  /**
   * Records feedback facts the first time each happens: sets a fact's `flag` (and `sets`) unless
   * the flag is there already, and in the same transaction applies `alsoWrite(recorded)` (the
   * campaign counters that count them), so a duplicate event (SQS delivers at least once, SES may
   * publish twice) changes nothing and a crash leaves flags and counters in step. The facts about
   * one item are one update (factsByItem), up to FACTS_PER_TRANSACTION items share a transaction.
   * An item whose condition fails (a flag already set, or no item) is tried again fact by fact if
   * it had several, and is a duplicate if it had one; the rest of its transaction is written
   * without it. Returns each fact's outcome, in order.
   */
  async recordFirstAll<F extends FirstFact>(
    facts: readonly F[],
    alsoWrite: (recorded: readonly F[]) => TransactItem[],
  ): Promise<FirstTime[]> {
    const outcomes: FirstTime[] = facts.map(() => "duplicate");
    let pending: Entry<F>[][] = factsByItem(facts);
    while (pending.length > 0) {
      const again: Entry<F>[][] = [];
      for (let live of transactionGroups(pending)) {
        while (live.length > 0) {
          try {
            const updates = live.map((unit) => ({ Update: this.unitUpdate(unit) }));
            await transactWrite(this.db, [...updates, ...alsoWrite(live.flat().map((e) => e.fact))]);
            for (const entry of live.flat()) outcomes[entry.index] = "recorded";
            break;
          } catch (error) {
            const codes = cancellationCodes(error);
            const failed = new Set(live.filter((_, i) => codes?.[i] === "ConditionalCheckFailed"));
            if (!codes || failed.size === 0) throw error;
            for (const unit of failed) if (unit.length > 1) again.push(...unit.map((entry) => [entry]));
            live = live.filter((unit) => !failed.has(unit));
          }
        }
      }
      pending = again;
    }
    return outcomes;
  }

  /** One update for a unit of facts about one item: all their flags, only while all are unset. */
  private unitUpdate<F extends FirstFact>(unit: readonly Entry<F>[]) {
    const sets: Record<string, string> = {};
    for (const { fact } of unit) Object.assign(sets, fact.sets, { [fact.flag]: fact.at });
    return eventUpdate(
      this.table,
      (unit[0] as Entry<F>).fact.ref,
      sets,
      unit.map((e) => e.fact.flag),
    );
  }

  /**
   * Adds opens and clicks (domain/engagement.ts entries) to their items' `engagement` sets, one
   * update per item: a set keeps one copy of an entry, so a duplicate event changes nothing. An item
   * that holds ENGAGEMENT_LIMIT entries already takes no more.
   */
  async recordEngagement(
    entries: readonly { readonly ref: LedgerRef; readonly entry: string }[],
  ): Promise<void> {
    const byItem = new Map<string, { ref: LedgerRef; entries: Set<string> }>();
    for (const { ref, entry } of entries) {
      const key = `${ref.pk}|${ref.sk}`;
      const held = byItem.get(key) ?? { ref, entries: new Set<string>() };
      held.entries.add(entry);
      byItem.set(key, held);
    }
    await mapLimit([...byItem.values()], LOOKUPS, ({ ref, entries: added }) =>
      updateIf(this.db, {
        TableName: this.table,
        Key: { pk: ref.pk, sk: ref.sk },
        UpdateExpression: "ADD engagement :added",
        ConditionExpression:
          "attribute_exists(pk) AND (attribute_not_exists(engagement) OR size(engagement) < :limit)",
        ExpressionAttributeValues: { ":added": added, ":limit": ENGAGEMENT_LIMIT },
      }),
    );
  }

  /** Records feedback attributes every time (the latest value wins). */
  async recordAlways(ref: LedgerRef, sets: Readonly<Record<string, string>>): Promise<void> {
    await updateIf(this.db, eventUpdate(this.table, ref, sets));
  }
}

function toRef(item: Record<string, unknown>): LedgerRef {
  return {
    pk: item.pk as string,
    sk: item.sk as string,
    campaignId: item.campaignId as string,
    email: item.email as string,
  };
}

function uniqueKeys(keys: readonly Key[]): Key[] {
  return [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
}
