/**
 * The delivery ledger: one item per (campaign, recipient). Its state machine is the heart of the
 * "nobody lost, nobody twice" promise:
 *
 *   queued ──claim──► sending ──SES accepted──► sent
 *                        │  └──permanent error──► failed
 *                        └──transient error──► queued (retried later)
 *   queued ──► suppressed | cancelled
 *
 * `sending` carries a lease: a worker that dies mid-send leaves the item `sending` until the lease
 * expires, after which another worker may reclaim it.
 */
export const RECIPIENT_STATUSES = ["queued", "sending", "sent", "failed", "suppressed", "cancelled"] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

const TERMINAL_STATUSES: ReadonlySet<RecipientStatus> = new Set([
  "sent",
  "failed",
  "suppressed",
  "cancelled",
]);

export function isTerminal(status: RecipientStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export type RecipientCounts = Record<RecipientStatus, number> & { total: number };

export function emptyCounts(): RecipientCounts {
  return { total: 0, queued: 0, sending: 0, sent: 0, failed: 0, suppressed: 0, cancelled: 0 };
}

export function pendingCount(counts: RecipientCounts): number {
  return counts.queued + counts.sending;
}
