import type { EngagementRecord } from "../domain/segment.ts";
import type { UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import type { RecipientStatus } from "../domain/ledger.ts";
import { LEDGER_SHARDS, ledgerPk, RECIPIENT_PREFIX } from "./dynamo/keys.ts";

/**
 * The ledger item's shape: what LedgerStore (its only writer) reads and writes, the listing
 * cursor it hands out, and the update it makes for a feedback event.
 */

export interface LedgerItem {
  readonly campaignId: string;
  readonly email: string;
  readonly status: RecipientStatus;
  readonly attempts: number;
  readonly region?: string;
  readonly sesMessageId?: string;
  readonly error?: string;
  /** Why a recipient was suppressed or cancelled. */
  readonly reason?: string;
  readonly leaseUntil?: number;
  readonly updatedAt?: string;
}

export type ClaimResult =
  /**
   * `claimId` is this claim's own: recording the outcome must name it. An attempt counter would not
   * do: two replicas that each saw the item `queued` both count attempt 1.
   */
  | { readonly claimed: true; readonly claimId: string; readonly attempt: number }
  | { readonly claimed: false; readonly current?: LedgerItem };

export interface RecipientPage {
  readonly items: LedgerItem[];
  readonly nextCursor?: string;
}

/** Where a recipient listing stands: a shard, and the last key read in it. */
export interface Cursor {
  s: number;
  k?: Record<string, string>;
}

/** The ledger item an SES message id belongs to. */
export interface LedgerRef {
  readonly pk: string;
  readonly sk: string;
  readonly campaignId: string;
  readonly email: string;
}

export type FirstTime = "recorded" | "duplicate";

/** A feedback fact for `LedgerStore.recordFirstAll`: `flag` set to `at` on the item, with `sets`. */
export interface FirstFact {
  readonly ref: LedgerRef;
  readonly flag: string;
  readonly at: string;
  readonly sets: Readonly<Record<string, string>>;
}

/**
 * Items per transaction: with one counter item per campaign beside them, at most 90 of DynamoDB's
 * 100 items per transaction.
 */
export const FACTS_PER_TRANSACTION = 45;

/** A fact with its position in the batch. */
export interface Entry<F extends FirstFact> {
  readonly fact: F;
  readonly index: number;
}

/**
 * A batch's facts by ledger item: the facts about one item become one update that sets all their
 * flags or none (a Send and the Delivery that followed it in the same batch: one write, not two);
 * a flag that comes twice for one item counts once (the other is a duplicate event, left out).
 */
export function factsByItem<F extends FirstFact>(facts: readonly F[]): Entry<F>[][] {
  const units = new Map<string, Entry<F>[]>();
  facts.forEach((fact, index) => {
    const item = `${fact.ref.pk}\u0000${fact.ref.sk}`;
    const unit = units.get(item) ?? [];
    if (!unit.some((e) => e.fact.flag === fact.flag)) unit.push({ fact, index });
    units.set(item, unit);
  });
  return [...units.values()];
}

/**
 * Splits units of facts (each about one ledger item) into transaction-sized groups in which no item
 * appears twice (a transaction may not touch one item twice).
 */
export function transactionGroups<F extends FirstFact>(units: readonly Entry<F>[][]): Entry<F>[][][] {
  const groups: { units: Entry<F>[][]; items: Set<string> }[] = [];
  for (const unit of units) {
    const ref = (unit[0] as Entry<F>).fact.ref;
    const item = `${ref.pk}\u0000${ref.sk}`;
    let group = groups.find((g) => g.units.length < FACTS_PER_TRANSACTION && !g.items.has(item));
    if (!group) {
      group = { units: [], items: new Set() };
      groups.push(group);
    }
    group.units.push(unit);
    group.items.add(item);
  }
  return groups.map((g) => g.units);
}

export function unmarshalled(item: Record<string, unknown>): LedgerItem {
  return {
    campaignId: item.campaignId as string,
    email: item.email as string,
    status: item.status as RecipientStatus,
    attempts: Number(item.attempts ?? 0),
    ...(item.region ? { region: item.region as string } : {}),
    ...(item.sesMessageId ? { sesMessageId: item.sesMessageId as string } : {}),
    ...(item.error ? { error: item.error as string } : {}),
    ...(item.reason ? { reason: item.reason as string } : {}),
    ...(item.leaseUntil ? { leaseUntil: Number(item.leaseUntil) } : {}),
    ...(item.updatedAt ? { updatedAt: item.updatedAt as string } : {}),
  };
}

/** A listing cursor of `campaignId`: a shard in range and, if any, a key of that shard. */
export function acceptCursor(campaignId: string, value: Record<string, unknown>): Cursor | undefined {
  const s = value.s;
  if (typeof s !== "number" || !Number.isInteger(s) || s < 0 || s >= LEDGER_SHARDS) return undefined;
  if (value.k === undefined) return { s };
  const k = value.k as Record<string, unknown> | null;
  if (typeof k !== "object" || k === null || k.pk !== ledgerPk(campaignId, s)) return undefined;
  if (typeof k.sk !== "string" || !k.sk.startsWith(RECIPIENT_PREFIX)) return undefined;
  return { s, k: { pk: k.pk, sk: k.sk } };
}

/** Sets feedback attributes on an existing ledger item, optionally only while `absentFlags` are all unset. */
export function eventUpdate(
  table: string,
  ref: LedgerRef,
  sets: Readonly<Record<string, string>>,
  absentFlags: readonly string[] = [],
): UpdateCommandInput & { UpdateExpression: string } {
  const names: Record<string, string> = {};
  const values: Record<string, string> = {};
  const parts = Object.entries(sets).map(([key, value], i) => {
    names[`#a${i}`] = key;
    values[`:v${i}`] = value;
    return `#a${i} = :v${i}`;
  });
  let condition = "attribute_exists(pk)";
  absentFlags.forEach((flag, i) => {
    names[`#f${i}`] = flag;
    condition += ` AND attribute_not_exists(#f${i})`;
  });
  return {
    TableName: table,
    Key: { pk: ref.pk, sk: ref.sk },
    UpdateExpression: `SET ${parts.join(", ")}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The attributes of a ledger item that reports, segments and follow-ups read. */
export const ENGAGEMENT_PROJECTION =
  "#status, sentAt, sendEventAt, deliveredAt, bouncedAt, complainedAt, openedAt, clickedAt, engagement";

/** A ledger item's delivery facts and engagement, as reports, segments and follow-ups read them. */
export function engagementFields(
  item: Record<string, unknown>,
): Omit<EngagementRecord, "campaignId"> & { bouncedAt?: string; complainedAt?: string } {
  const text = (name: string) => (typeof item[name] === "string" ? item[name] : undefined);
  const fields = {
    status: text("status"),
    sentAt: text("sentAt") ?? text("sendEventAt"),
    deliveredAt: text("deliveredAt"),
    bouncedAt: text("bouncedAt"),
    complainedAt: text("complainedAt"),
    openedAt: text("openedAt"),
    clickedAt: text("clickedAt"),
  };
  return {
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
    engagement: item.engagement instanceof Set ? [...(item.engagement as Set<string>)] : [],
  };
}
