import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ENV } from "../contracts/env.ts";
import { requireEnv } from "../shared/env.ts";
import type { Ownership } from "../usecases/campaign-ownership.ts";
import { CampaignIntentStore } from "./campaign-intent-store.ts";
import { createCoordinationClient } from "./clients.ts";
import { OwnershipStore } from "./ownership-store.ts";

/**
 * Campaign ownership as this function's environment configures it: owners in the coordination table
 * when the deployment has one (COORDINATION_TABLE), else in the audience table, owned by the home
 * region. `db` is the function's client of its own region's audience table replica.
 */
export function ownershipFromEnv(db: DynamoDBDocumentClient): Ownership {
  const audienceTable = requireEnv(ENV.audienceTable);
  const coordinationTable = process.env[ENV.coordinationTable];
  const region = requireEnv("AWS_REGION");
  return {
    owners: coordinationTable
      ? new OwnershipStore(createCoordinationClient(), coordinationTable, true)
      : new OwnershipStore(db, audienceTable, false),
    intents: new CampaignIntentStore(db, audienceTable, region),
    region,
    homeRegion: requireEnv(ENV.homeRegion),
    coordinated: coordinationTable !== undefined && coordinationTable !== "",
    leaseMs: Number(requireEnv(ENV.ownerLeaseSeconds)) * 1000,
    now: Date.now,
  };
}
