import { logger } from "../shared/powertools.ts";
import { RetryLaterError } from "../shared/sqs-batch.ts";
import type { Standing, StandingCache } from "../usecases/campaign-ownership.ts";

/**
 * Whether this region fans the campaign out: only its owner does, the reader and every slice
 * worker alike. Another region's campaign is left to it (the message is done); an owner that could
 * not renew its lease tries again later.
 */
export async function mayFanOut(
  standings: StandingCache,
  campaignId: string,
  known?: Standing,
): Promise<boolean> {
  const standing = known ?? (await standings.get(campaignId));
  if (standings.acts(standing)) return true;
  if (standing.kind === "lapsed") throw new RetryLaterError("could not renew the campaign's owner lease", 30);
  logger.info("another region owns the campaign: fan-out left to it", { campaignId });
  return false;
}
