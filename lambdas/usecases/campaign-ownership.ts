import type { CampaignIntentStore } from "../adapters/campaign-intent-store.ts";
import type { OwnershipStore } from "../adapters/ownership-store.ts";
import {
  type IntentAction,
  mayAct,
  mayTakeOver,
  type OwnerRecord,
  shouldRenew,
} from "../domain/ownership.ts";

/**
 * Which region acts on a campaign (domain/ownership.ts has the rules): claiming a campaign when it
 * is sent or scheduled, checking and renewing the owner's lease before acting, recording control
 * calls for a campaign another region owns, and taking a campaign over when its owner is gone.
 */
export interface Ownership {
  readonly owners: OwnershipStore;
  readonly intents: CampaignIntentStore;
  /** The region this function runs in. */
  readonly region: string;
  /** The region that owns every campaign when there is no coordination table. */
  readonly homeRegion: string;
  /** Whether owners live in a strongly consistent coordination table (automatic takeover). */
  readonly coordinated: boolean;
  readonly leaseMs: number;
  readonly now: () => number;
}

/**
 * Claims a campaign that is being sent or scheduled: with a coordination table, for this region
 * (the first region to claim it wins, and every region agrees at once); without one, for the home
 * region (every region writes the same owner, so replication cannot disagree). Returns the owner.
 */
export function claimOwner(ownership: Ownership, campaignId: string): Promise<OwnerRecord> {
  const region = ownership.coordinated ? ownership.region : ownership.homeRegion;
  return ownership.owners.claim(campaignId, region, ownership.now(), ownership.leaseMs);
}

/** What a region may do with a campaign right now. */
export type Standing =
  /** It owns the campaign and its lease is live: act. */
  | { readonly kind: "owner"; readonly record: OwnerRecord }
  /** Another region owns it: leave it alone (its owner re-enqueues what it needs). */
  | { readonly kind: "other"; readonly record: OwnerRecord }
  /** It owns the campaign but could not renew its lease: do nothing now, try again later. */
  | { readonly kind: "lapsed"; readonly record: OwnerRecord }
  /** Nobody owns it (a draft, or a campaign started before owners existed): the home region acts. */
  | { readonly kind: "unowned" };

/**
 * This region's standing on a campaign, renewing the lease when less than half of it is left. A
 * renewal that fails (another region took over, or the coordination table cannot be reached)
 * leaves the owner `lapsed`: it stops acting before its lease runs out.
 */
export async function standing(
  ownership: Ownership,
  campaignId: string,
  known?: OwnerRecord,
): Promise<Standing> {
  const record = known ?? (await ownership.owners.get(campaignId));
  if (!record) return { kind: "unowned" };
  if (record.ownerRegion !== ownership.region) return { kind: "other", record };
  const now = ownership.now();
  if (!shouldRenew(record, now, ownership.leaseMs)) return { kind: "owner", record };
  const renewed = await ownership.owners.renew(record, now, ownership.leaseMs).catch(() => undefined);
  if (renewed) return { kind: "owner", record: renewed };
  return mayAct(record, ownership.region, now) ? { kind: "owner", record } : { kind: "lapsed", record };
}

/** Whether this region may act on a campaign with this standing (the home region acts on unowned ones). */
export function acts(ownership: Ownership, s: Standing): boolean {
  return s.kind === "owner" || (s.kind === "unowned" && ownership.region === ownership.homeRegion);
}

/**
 * A per-container cache of standings, for the senders and the fan-out, which ask before every batch:
 * the coordination table is read at most once per `ttlMs` per campaign (and the lease renewed when
 * due), so a lost lease or a takeover stops this region within `ttlMs` plus one batch, well inside
 * the safety margin.
 */
export class StandingCache {
  private readonly cache = new Map<string, { standing: Standing; readAt: number }>();

  constructor(
    private readonly ownership: Ownership,
    private readonly ttlMs = 2_000,
  ) {}

  async get(campaignId: string): Promise<Standing> {
    const now = this.ownership.now();
    const cached = this.cache.get(campaignId);
    if (cached && now - cached.readAt < this.ttlMs) return cached.standing;
    const fresh = await standing(this.ownership, campaignId);
    this.cache.set(campaignId, { standing: fresh, readAt: now });
    return fresh;
  }

  acts(s: Standing): boolean {
    return acts(this.ownership, s);
  }
}

/** What a control call at this region did when another region owns the campaign. */
export interface Requested {
  readonly kind: "requested";
  readonly ownerRegion: string;
  readonly action: IntentAction;
  readonly at: string;
}

/**
 * Records a control call (pause, resume, cancel, or a send without a coordination table) for a
 * campaign another region owns: the owner applies it (scheduler's watch) and its senders obey a
 * pause or cancel as soon as the intent reaches its replica. Undefined when this region may act
 * itself.
 */
export async function requestOfOwner(
  ownership: Ownership,
  campaignId: string,
  action: IntentAction,
  now: string,
  reason?: string,
): Promise<Requested | undefined> {
  const s = await standing(ownership, campaignId);
  if (acts(ownership, s)) return undefined;
  const ownerRegion = s.kind === "unowned" ? ownership.homeRegion : s.record.ownerRegion;
  if (s.kind === "lapsed") return undefined; // this region owns it: it applies the call when it can
  const intent = await ownership.intents.put(campaignId, action, now, reason);
  return { kind: "requested", ownerRegion, action, at: intent.at };
}

/** Why a takeover was refused, for the API's 409. */
export type TakeoverOutcome =
  | { readonly kind: "taken"; readonly record: OwnerRecord }
  | { readonly kind: "already"; readonly record: OwnerRecord }
  | { readonly kind: "refused"; readonly reason: string };

/**
 * Makes this region the campaign's owner once the owner's lease has run out (as the coordination
 * table says, or without one, as this region's replica says). The caller adopts the campaign
 * (usecases/campaign-takeover.ts).
 */
export async function takeOverOwner(ownership: Ownership, campaignId: string): Promise<TakeoverOutcome> {
  const record = await ownership.owners.get(campaignId);
  if (!record)
    return { kind: "refused", reason: "the campaign has no owner: it was never sent or scheduled" };
  if (record.ownerRegion === ownership.region) return { kind: "already", record };
  if (record.finishedAt !== undefined)
    return {
      kind: "refused",
      reason: `${record.ownerRegion} finished the campaign at ${record.finishedAt}: there is nothing to take over`,
    };
  const now = ownership.now();
  if (!mayTakeOver(record, ownership.region, now)) {
    return {
      kind: "refused",
      reason: `${record.ownerRegion} owns the campaign and its lease is live until ${new Date(record.leaseUntil).toISOString()}`,
    };
  }
  const taken = await ownership.owners.takeOver(record, ownership.region, now, ownership.leaseMs);
  if (!taken) return { kind: "refused", reason: "another region took the campaign over first" };
  return { kind: "taken", record: taken };
}

/**
 * Marks a campaign this region owns as finished in its owner record (OwnershipStore.finish), once
 * the campaign item says so: from then on no region takes it over. Nothing if another region owns it.
 */
export async function finishOwnership(ownership: Ownership, campaignId: string): Promise<void> {
  const record = await ownership.owners.get(campaignId);
  if (record?.ownerRegion !== ownership.region || record.finishedAt !== undefined) return;
  await ownership.owners.finish(record, new Date(ownership.now()).toISOString());
}
