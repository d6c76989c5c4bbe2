import type { CampaignIntentStore } from "../../lambdas/adapters/campaign-intent-store.ts";
import type { OwnershipStore } from "../../lambdas/adapters/ownership-store.ts";
import type { ControlIntent, IntentAction, OwnerRecord } from "../../lambdas/domain/ownership.ts";
import type { Ownership } from "../../lambdas/usecases/campaign-ownership.ts";

/**
 * Campaign ownership in memory, with the store's rules (first claim wins, renew and finish by the
 * owner at its epoch, takeover once the lease ran out of a campaign not finished): for unit tests
 * of what reads and writes owners.
 */
export function fakeOwnership(options: {
  region: string;
  homeRegion?: string;
  coordinated?: boolean;
  leaseMs?: number;
  now?: () => number;
}) {
  const records = new Map<string, OwnerRecord>();
  const intents: (ControlIntent & { campaignId: string })[] = [];
  const owners = {
    get: async (id: string) => records.get(id),
    claim: async (id: string, region: string, nowMs: number, leaseMs: number) => {
      const found = records.get(id);
      if (found) return found;
      const record = { campaignId: id, ownerRegion: region, epoch: 1, leaseUntil: nowMs + leaseMs };
      records.set(id, record);
      return record;
    },
    renew: async (record: OwnerRecord, nowMs: number, leaseMs: number) => {
      const found = records.get(record.campaignId);
      if (!found || found.ownerRegion !== record.ownerRegion || found.epoch !== record.epoch)
        return undefined;
      const renewed = { ...found, leaseUntil: nowMs + leaseMs };
      records.set(record.campaignId, renewed);
      return renewed;
    },
    finish: async (record: OwnerRecord, at: string) => {
      const found = records.get(record.campaignId);
      if (!found || found.ownerRegion !== record.ownerRegion || found.epoch !== record.epoch) return;
      records.set(record.campaignId, { ...found, finishedAt: at });
    },
    takeOver: async (current: OwnerRecord, region: string, nowMs: number, leaseMs: number) => {
      const found = records.get(current.campaignId);
      if (!found || found.epoch !== current.epoch || found.leaseUntil >= nowMs || found.finishedAt)
        return undefined;
      const taken = {
        campaignId: current.campaignId,
        ownerRegion: region,
        epoch: found.epoch + 1,
        leaseUntil: nowMs + leaseMs,
      };
      records.set(current.campaignId, taken);
      return taken;
    },
  } as unknown as OwnershipStore;
  const intentStore = {
    put: async (campaignId: string, action: IntentAction, at: string, reason?: string) => {
      const intent = { region: options.region, action, at, ...(reason ? { reason } : {}) };
      intents.push({ campaignId, ...intent });
      return intent;
    },
  } as unknown as CampaignIntentStore;
  const ownership: Ownership = {
    owners,
    intents: intentStore,
    region: options.region,
    homeRegion: options.homeRegion ?? options.region,
    coordinated: options.coordinated ?? true,
    leaseMs: options.leaseMs ?? 90_000,
    now: options.now ?? Date.now,
  };
  return { ownership, records, intents };
}
