import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { LedgerItem } from "../adapters/ledger-items.ts";
import type { SesSender } from "../adapters/ses-sender.ts";
import type { Campaign } from "../domain/campaign.ts";

// What a Delivery (deliver.ts) needs, and what it reports of each recipient.

/**
 * What happened to one recipient of a send message:
 * - sent / failed / suppressed / cancelled: recorded terminal in the ledger by this call;
 * - skipped: already terminal (a redelivered message), or a person erased meanwhile (nothing kept);
 * - retry: SES throttled or unavailable, or another worker holds the recipient: try again later;
 * - held: the campaign is paused: keep the recipient queued until it resumes;
 * - deferred: not claimed, the invocation had no time left to send it: hand it back at once;
 * - elsewhere: another region owns the campaign (it took it over): drop it, the owner re-enqueues
 *   every recipient not yet terminal.
 */
export type RecipientResult =
  | "sent"
  | "failed"
  | "suppressed"
  | "cancelled"
  | "skipped"
  | "retry"
  | "throttled"
  | "held"
  | "deferred"
  | "elsewhere";

/**
 * Whether this region may send for a campaign now (usecases/campaign-ownership.ts): `act` (it owns
 * it), `elsewhere` (another region does), or `wait` (it owns it but could not renew its lease: the
 * recipients wait in the queue).
 */
type OwnerCheck = (campaignId: string) => Promise<"act" | "elsewhere" | "wait">;

export interface DeliveryDeps {
  readonly campaigns: Pick<CampaignStore, "get" | "getControl">;
  readonly owner: OwnerCheck;
  readonly ledger: Pick<LedgerStore, "claim" | "complete" | "createQueued" | "cancel" | "eraseRecipient">;
  readonly ses: Pick<SesSender, "reserve" | "send" | "release">;
  readonly now: () => number;
  /**
   * How long a claim is held before another worker may take the recipient over: longer than an
   * invocation can live, so that a live worker never loses a claim, and no longer, so that a dead
   * worker's recipients come back soon.
   */
  readonly leaseMs: number;
  /**
   * Time an invocation keeps after its last claim: a recipient is claimed only while this much is
   * left before the deadline, for the SES call and for recording it through a short DynamoDB outage.
   */
  readonly claimReserveMs: number;
  /** Recipients handled at once, across the messages of an invocation. */
  readonly parallelism: number;
  /** How stale a campaign's status may be: a pause takes effect within this long. @default STATUS_TTL_MS */
  readonly statusTtlMs?: number;
  readonly onEvent?: (event: DeliveryEvent) => void;
  /** Pauses a campaign, recording why (SES paused or suspended the account's sending). */
  readonly pause: (campaignId: string, reason: string) => Promise<void>;
  /**
   * Why each of these recipients must not be mailed (unsubscribed, on the suppression list…); absent
   * to send. Read for a whole message at once, and again for a recipient whose turn comes more than
   * `statusTtlMs` later, so that an unsubscribe is honoured within the same few seconds as a pause.
   */
  readonly suppressionReasons?: (
    campaign: Campaign,
    emails: readonly string[],
  ) => Promise<Map<string, string>>;
}

export type DeliveryEvent =
  | {
      type: "sent";
      campaignId: string;
      email: string;
      region: string;
      messageId: string;
      failedOver: boolean;
    }
  | { type: "failed"; campaignId: string; email: string; region: string; error: string; errorClass: string }
  | { type: "suppressed"; campaignId: string; email: string; reason: string }
  /** A recipient a message named again was terminal already: what was recorded then. */
  | { type: "recorded-before"; item: LedgerItem }
  | { type: "retry"; errorClass: string }
  | { type: "duplicate-window"; campaignId: string }
  | { type: "unknown-outcome"; campaignId: string; email: string; calls: number }
  | { type: "enforcement"; campaignId: string; reason: string };
