import type { SteadfastConfig } from "./config.ts";

/**
 * The region sets of DynamoDB multi-Region strong consistency (MRSC), in AWS's listed order: every
 * replica and the witness of an MRSC table must be in one set.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/multi-region-strong-consistency-gt.html
 */
const MRSC_REGION_SETS = {
  US: ["us-east-1", "us-east-2", "us-west-2"],
  EU: ["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"],
  AP: ["ap-northeast-1", "ap-northeast-2", "ap-northeast-3"],
} as const satisfies Record<string, readonly string[]>;

type MrscRegionSet = keyof typeof MRSC_REGION_SETS;

/** An MRSC table has exactly three replicas, or two and a witness. */
const MRSC_MEMBERS = 3;

/**
 * Whether the deployment gets a coordination table, and its shape. Without one every campaign is
 * owned by primaryRegion, and moved to another region only by hand (the takeover route).
 */
export type CoordinationPlan =
  | {
      readonly kind: "mrsc";
      readonly regionSet: MrscRegionSet;
      /** Regions holding a replica: every configured region, primaryRegion among them. */
      readonly replicaRegions: readonly string[];
      /** The third member when only two regions are configured; it stores no items and serves no requests. */
      readonly witnessRegion: string | undefined;
    }
  | { readonly kind: "none"; readonly reason: string };

/** The coordination plan of a configuration: the one place that decides whether there is a table. */
export function coordinationPlan(
  config: Pick<SteadfastConfig, "coordination" | "regions">,
): CoordinationPlan {
  const { coordination, regions } = config;
  if (coordination === "none") return { kind: "none", reason: 'coordination is "none"' };
  if (regions.length === 1) {
    return { kind: "none", reason: `only ${regions[0]} is configured: it owns every campaign` };
  }
  if (regions.length > MRSC_MEMBERS) {
    return {
      kind: "none",
      reason: `an MRSC table has at most ${MRSC_MEMBERS} replicas; ${regions.length} regions are configured`,
    };
  }
  const found = (Object.entries(MRSC_REGION_SETS) as [MrscRegionSet, readonly string[]][]).find(([, set]) =>
    regions.every((region) => set.includes(region)),
  );
  if (found === undefined) {
    const sets = Object.entries(MRSC_REGION_SETS).map(([name, set]) => `${name}: ${set.join(", ")}`);
    return {
      kind: "none",
      reason: `regions [${regions.join(", ")}] are not all in one MRSC region set (${sets.join("; ")})`,
    };
  }
  const [regionSet, members] = found;
  const witnessRegion =
    regions.length === MRSC_MEMBERS ? undefined : members.find((region) => !regions.includes(region));
  return { kind: "mrsc", regionSet, replicaRegions: [...regions], witnessRegion };
}

/**
 * How long a campaign's owner region holds it without renewing. The owner renews at each scheduler
 * tick (every minute) and at each send batch, so the lease outlasts a tick that comes up to 30 s
 * late, and, while the campaign sends, a tick missed altogether. A takeover waits the lease out:
 * a region that stops renewing loses its campaigns about 90 s after its last renewal.
 */
export const OWNER_LEASE_SECONDS = 90;
