import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { SegmentStore } from "../adapters/segment-store.ts";
import type { Campaign } from "../domain/campaign.ts";
import type { SegmentRule } from "../contracts/segment-rule.ts";
import type { CampaignAudience, FrozenSegment } from "../domain/segment.ts";

/** Whether a campaign follows another up, or names a segment or an excluded list or segment. */
const namesAudience = (campaign: Campaign): boolean =>
  campaign.followUp !== undefined ||
  campaign.segmentId !== undefined ||
  (campaign.excludeListIds?.length ?? 0) > 0 ||
  (campaign.excludeSegmentIds?.length ?? 0) > 0;

/** The segment ids a campaign names that do not exist (now, in this region's replica). */
export async function missingSegments(
  segments: Pick<SegmentStore, "get">,
  ids: readonly string[],
): Promise<string[]> {
  const found = await Promise.all(ids.map(async (id) => ((await segments.get(id, true)) ? undefined : id)));
  return found.filter((id): id is string => id !== undefined);
}

/**
 * Fixes who a campaign is for when its fan-out starts (in the owner region, the campaign's one
 * writer by then): the segments it names, copied with their versions, so that later changes to a
 * segment never reach a campaign on its way. Returns the audience the campaign goes to, the one
 * frozen before if a fan-out already froze it. A segment deleted since the campaign was sent is
 * taken as closed: a missing included segment holds nobody, a missing excluded segment excludes
 * everybody. Never mailing someone a sender meant to leave out matters more than reach.
 */
export async function freezeAudience(
  deps: { campaigns: Pick<CampaignStore, "fanout">; segments: Pick<SegmentStore, "get"> },
  campaign: Campaign,
): Promise<CampaignAudience | undefined> {
  if (campaign.audience || !namesAudience(campaign)) return campaign.audience;
  const frozen = async (id: string, ifMissing: SegmentRule): Promise<FrozenSegment> => {
    const segment = await deps.segments.get(id, true);
    return segment
      ? { id, version: segment.version, rule: segment.rule }
      : { id, version: 0, rule: ifMissing };
  };
  const include = campaign.segmentId ? await frozen(campaign.segmentId, NOBODY) : undefined;
  const exclude: FrozenSegment[] = [];
  for (const id of campaign.excludeSegmentIds ?? []) exclude.push(await frozen(id, EVERYBODY));
  return deps.campaigns.fanout.setAudience(campaign.id, {
    ...(campaign.followUp ? { followUp: campaign.followUp } : {}),
    ...(include ? { include } : {}),
    exclude,
    excludeListIds: campaign.excludeListIds ?? [],
  });
}

/** A rule every subscriber passes, and one nobody does. */
const EVERYBODY: SegmentRule = { any: [{ status: "subscribed" }, { not: { status: "subscribed" } }] };
const NOBODY: SegmentRule = { not: EVERYBODY };
