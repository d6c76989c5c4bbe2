/**
 * The key schema of both tables: every partition and sort key Steadfast writes is spelled here and
 * nowhere else.
 *
 * Audience table (`pk`, `sk`):
 *
 *   LIST#<id>              #META                the list                       ListStore
 *   LIST#<id>              SUB#<email>          a subscriber                   SubscriberStore
 *   LISTS                  <createdAt>#<id>     index of lists, for paging     ListStore
 *   ERASURE                <listId>             a deleted list being erased    ListStore
 *   CAMPAIGN#<id>          #CONTENT             a campaign's subject, html and CampaignStore
 *                                               text: written by the API while
 *                                               a draft, then never again
 *   CAMPAIGN#<id>          #META                a campaign's control item: its CampaignStore
 *                                               status, owner and fan-out
 *                                               checkpoint: written by the API
 *                                               while a draft, then only by
 *                                               its owner region
 *   CAMPAIGN#<id>          COUNTERS#<region>    SES feedback counted in        CampaignCounterStore
 *                                               <region>, and the sends its
 *                                               senders had accepted: written
 *                                               only there
 *   CAMPAIGN#<id>          INTENT#<region>      the last pause/resume/cancel/  CampaignIntentStore
 *                                               send asked of <region>'s API
 *                                               for a campaign another region
 *                                               owns: written only there
 *   CAMPAIGN#<id>          OWNER                the owner region and epoch,    OwnershipStore
 *                                               only when there is no
 *                                               coordination table: written at
 *                                               the claim and by a takeover
 *   CAMPAIGN#<id>          LEASE#<region>       <region>'s lease renewals as   OwnershipStore
 *                                               owner (no coordination table),
 *                                               and its finish mark: written
 *                                               only by that region
 *   FANOUT#<campaignId>    <run>#<n>            slice n of a fan-out run: a    FanoutSlices
 *                                               range of the list, its lease
 *                                               and checkpoint: written only
 *                                               by the owner region's fan-out
 *   CAMPAIGNS              <createdAt>#<id>     index of campaigns             CampaignStore
 *   SCHEDULED              <scheduledAt>#<id>   a scheduled campaign           CampaignStore
 *   ACTIVE                 <campaignId>         a campaign the scheduler       CampaignAgendaStore
 *                                               watches (with its listId)
 *   SENDERS#<region>       #BUDGET              the senders using <region>'s   SenderBudgetStore
 *                                               SES now, and the rate they
 *                                               learned from its 429s: written
 *                                               only by <region>'s senders
 *   SEGMENT#<id>           #META                a saved segment: its name,     SegmentStore
 *                                               rule and version
 *   SEGMENTS               <createdAt>#<id>     index of segments, for paging  SegmentStore
 *   TEMPLATE#<id>          #META                a template: name, home region, TemplateStore
 *                                               latest version
 *   TEMPLATE#<id>          VERSION#<n>          one version's content,         TemplateStore
 *                                               never changed once written
 *   TEMPLATES              <createdAt>#<id>     index of templates, for paging TemplateStore
 *   WEBHOOK#<id>           #META                a webhook endpoint: URL,       WebhookStore
 *                                               events, secrets, status
 *   WEBHOOK-HEALTH         <id>#<region>        one region's view of an        WebhookStore
 *                                               endpoint's health (failing
 *                                               since, disabled at)
 *   WEBHOOK#<id>           DELIVERY#<day>#<evt> one event's delivery to it:    WebhookDeliveryStore
 *                          [#R<replay>]         the event, tries, outcome (TTL)
 *   WEBHOOKS               <createdAt>#<id>     index of webhook endpoints     WebhookStore
 *   APIKEY#<hash>          #META                an API key (SHA-256 of the     ApiKeyStore
 *                                               secret; never the secret)
 *   APIKEYS                <id>                 index of API keys              ApiKeyStore
 *   SUPPRESSION            <email>              the suppression list (never    SuppressionStore
 *                                               touched by an erasure)
 *   SUPPRESSION            sha256:<hex>         an erased person's address,    SuppressionStore
 *                                               hashed: never mailed again
 *   IMPORT#<id>            #META                a CSV import job               ImportStore
 *   IDEMPOTENCY#<scope>#<key> #META             a remembered API response      IdempotencyStore
 *
 * Coordination table (strongly consistent, MRSC; `pk`, `sk`): `CAMPAIGN#<id>` / `OWNER`, a
 * campaign's owner region, epoch, lease and finish mark (OwnershipStore), written by the owner
 * (claim, renewal, finish) and by a region taking over after the lease ran out of a campaign not
 * finished; conditional writes keep it to one owner.
 * `IDEMPOTENCY#<scope>#<key>` / `CLAIM`, the region that took a request with that Idempotency-Key
 * (IdempotencyClaimStore), written by that region only (and by another once an abandoned claim's
 * lease ran out).
 *
 * Ledger table: `C#<campaignId>#<shard>` / `R#<email>`, one item per (campaign, recipient)
 * (LedgerStore), with the `bySesMessageId` index for feedback events and the `byRecipient` index
 * (the address, keys only) that erasure finds a person's ledger items by.
 */
const META = "#META";

export type Key = { readonly pk: string; readonly sk: string };

export const listKey = (id: string): Key => ({ pk: `LIST#${id}`, sk: META });
export const listIndexKey = (createdAt: string, id: string): Key => ({
  pk: "LISTS",
  sk: `${createdAt}#${id}`,
});
export const erasureKey = (listId: string): Key => ({ pk: "ERASURE", sk: listId });
export const ERASURE_PK = "ERASURE";
export const LISTS_PK = "LISTS";

export const SUBSCRIBER_PREFIX = "SUB#";
export const subscriberPk = (listId: string): string => `LIST#${listId}`;
/** The list a subscriber item's partition key names. */
export const listIdOf = (pk: string): string => pk.slice("LIST#".length);
export const subscriberKey = (listId: string, email: string): Key => ({
  pk: subscriberPk(listId),
  sk: `${SUBSCRIBER_PREFIX}${email}`,
});

export const campaignKey = (id: string): Key => ({ pk: `CAMPAIGN#${id}`, sk: META });
/** Sorts before every other item of the partition: a query for `sk > CAMPAIGN_CONTENT_SK` skips it. */
export const CAMPAIGN_CONTENT_SK = "#CONTENT";
export const campaignContentKey = (id: string): Key => ({ pk: `CAMPAIGN#${id}`, sk: CAMPAIGN_CONTENT_SK });
export const CAMPAIGN_COUNTERS_PREFIX = "COUNTERS#";
export const campaignCountersKey = (id: string, region: string): Key => ({
  pk: `CAMPAIGN#${id}`,
  sk: `${CAMPAIGN_COUNTERS_PREFIX}${region}`,
});
export const CAMPAIGN_INTENT_PREFIX = "INTENT#";
export const campaignIntentKey = (id: string, region: string): Key => ({
  pk: `CAMPAIGN#${id}`,
  sk: `${CAMPAIGN_INTENT_PREFIX}${region}`,
});
/** The owner item: in the coordination table, or in the audience table when there is none. */
export const campaignOwnerKey = (id: string): Key => ({ pk: `CAMPAIGN#${id}`, sk: "OWNER" });
/** An owner region's lease renewals, when owners live in the audience table. */
export const campaignLeaseKey = (id: string, region: string): Key => ({
  pk: `CAMPAIGN#${id}`,
  sk: `LEASE#${region}`,
});
export const campaignPk = (id: string): string => `CAMPAIGN#${id}`;
/** Slices of a fan-out run: a partition of their own, so that reading a campaign never reads them. */
export const fanoutSlicePk = (campaignId: string): string => `FANOUT#${campaignId}`;
export const fanoutSlicePrefix = (run: string): string => `${run}#`;
export const fanoutSliceKey = (campaignId: string, run: string, n: number): Key => ({
  pk: fanoutSlicePk(campaignId),
  sk: `${fanoutSlicePrefix(run)}${String(n).padStart(6, "0")}`,
});
export const campaignIndexKey = (createdAt: string, id: string): Key => ({
  pk: "CAMPAIGNS",
  sk: `${createdAt}#${id}`,
});
export const CAMPAIGNS_PK = "CAMPAIGNS";
export const SCHEDULED_PK = "SCHEDULED";
export const scheduledKey = (scheduledAt: string, id: string): Key => ({
  pk: SCHEDULED_PK,
  sk: `${scheduledAt}#${id}`,
});
export const ACTIVE_PK = "ACTIVE";
export const activeKey = (campaignId: string): Key => ({ pk: ACTIVE_PK, sk: campaignId });

export const segmentKey = (id: string): Key => ({ pk: `SEGMENT#${id}`, sk: META });
export const SEGMENTS_PK = "SEGMENTS";
export const segmentIndexKey = (createdAt: string, id: string): Key => ({
  pk: SEGMENTS_PK,
  sk: `${createdAt}#${id}`,
});

export const templateKey = (id: string): Key => ({ pk: `TEMPLATE#${id}`, sk: META });
export const templateVersionKey = (id: string, version: number): Key => ({
  pk: `TEMPLATE#${id}`,
  sk: `VERSION#${String(version).padStart(6, "0")}`,
});
export const TEMPLATES_PK = "TEMPLATES";
export const templateIndexKey = (createdAt: string, id: string): Key => ({
  pk: TEMPLATES_PK,
  sk: `${createdAt}#${id}`,
});

export const webhookKey = (id: string): Key => ({ pk: `WEBHOOK#${id}`, sk: META });
export const WEBHOOK_DELIVERY_PREFIX = "DELIVERY#";
/**
 * A delivery's key: by the day the event happened, so a replay reads from a day on; a replay's
 * delivery of an event sits beside the event's first.
 */
export const webhookDeliveryKey = (
  id: string,
  createdAt: string,
  eventId: string,
  replayId?: string,
): Key => ({
  pk: `WEBHOOK#${id}`,
  sk: `${WEBHOOK_DELIVERY_PREFIX}${createdAt.slice(0, 10)}#${eventId}${replayId ? `#R${replayId}` : ""}`,
});
export const WEBHOOK_HEALTH_PK = "WEBHOOK-HEALTH";
/** One region's view of an endpoint's health: written by that region's webhooks function only. */
export const webhookHealthKey = (id: string, region: string): Key => ({
  pk: WEBHOOK_HEALTH_PK,
  sk: `${id}#${region}`,
});
export const WEBHOOKS_PK = "WEBHOOKS";
export const webhookIndexKey = (createdAt: string, id: string): Key => ({
  pk: WEBHOOKS_PK,
  sk: `${createdAt}#${id}`,
});

export const senderBudgetKey = (region: string): Key => ({ pk: `SENDERS#${region}`, sk: "#BUDGET" });

export const apiKeyKey = (hash: string): Key => ({ pk: `APIKEY#${hash}`, sk: META });
export const APIKEYS_PK = "APIKEYS";
export const apiKeyIndexKey = (id: string): Key => ({ pk: APIKEYS_PK, sk: id });

export const SUPPRESSION_PK = "SUPPRESSION";
export const suppressionItemKey = (normalizedEmail: string): Key => ({
  pk: SUPPRESSION_PK,
  sk: normalizedEmail,
});

export const importKey = (id: string): Key => ({ pk: `IMPORT#${id}`, sk: META });
export const idempotencyKey = (scope: string, key: string): Key => ({
  pk: `IDEMPOTENCY#${scope}#${key}`,
  sk: META,
});
export const idempotencyClaimKey = (scope: string, key: string): Key => ({
  pk: `IDEMPOTENCY#${scope}#${key}`,
  sk: "CLAIM",
});

/** An item no one writes: the health route reads it to prove the table answers. */
export const healthKey: Key = { pk: "HEALTH", sk: META };

/**
 * Ledger items of one campaign are spread over this many partition keys so that a large campaign
 * does not hit DynamoDB's per-partition-key write ceiling (1,000 WCU/s) and counting can run in
 * parallel.
 */
export const LEDGER_SHARDS = 16;
export const RECIPIENT_PREFIX = "R#";

/** FNV-1a: a stable, cheap hash that spreads emails evenly over the shards. */
export function shardOf(email: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < email.length; i++) {
    hash ^= email.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % LEDGER_SHARDS;
}

export function ledgerPk(campaignId: string, shard: number): string {
  return `C#${campaignId}#${shard.toString().padStart(2, "0")}`;
}

export function ledgerKey(campaignId: string, email: string): Key {
  return { pk: ledgerPk(campaignId, shardOf(email)), sk: `${RECIPIENT_PREFIX}${email}` };
}

/** The campaign a ledger partition key belongs to (the inverse of {@link ledgerPk}). */
export function campaignOfLedgerPk(pk: string): string {
  return pk.slice(2, pk.lastIndexOf("#"));
}
