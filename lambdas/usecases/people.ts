import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import type { Suppression, SuppressionStore } from "../adapters/suppression-store.ts";
import { ERASED } from "../domain/email.ts";
import { type Membership, type MembershipDeps, membershipsOf } from "./memberships.ts";

export interface PeopleDeps extends MembershipDeps {
  readonly subscribers: Pick<SubscriberStore, "memberships" | "delete">;
  readonly ledger: Pick<LedgerStore, "itemsOf" | "recordsOf" | "erase">;
  readonly suppressions: Pick<SuppressionStore, "find" | "eraseAddress">;
}

/** Everything Steadfast holds about one address (GDPR Art. 15 and 20). */
export interface PersonExport {
  readonly email: string;
  readonly subscriptions: Membership[];
  /** Each ledger record of the address: the campaign, its fate and the SES events it had. */
  readonly deliveries: Record<string, unknown>[];
  /** Its suppression entry: in clear, or the hashed one an erasure left; null when none. */
  readonly suppression: Suppression | null;
}

export interface PersonErasure {
  readonly subscriptions: number;
  readonly deliveries: number;
  /** Whether an entry in clear was replaced by the hashed one. */
  readonly suppressionInClear: boolean;
}

/** The address's subscriptions on every list, its ledger records and its suppression entry. */
export async function exportPerson(deps: PeopleDeps, email: string): Promise<PersonExport> {
  const [subscriptions, deliveries, suppression] = await Promise.all([
    membershipsOf(deps, email),
    deps.ledger.recordsOf(email),
    deps.suppressions.find(email),
  ]);
  return {
    email,
    subscriptions,
    deliveries,
    suppression: suppression ?? null,
  };
}

/**
 * Erases an address everywhere (GDPR Art. 17) and keeps only its hashed suppression entry, so that
 * it is never mailed again; undefined, with nothing written, when Steadfast holds nothing about it.
 * The hashed entry comes first: a sender that meets the address after it (a queued message naming
 * it) skips it and drops its ledger item instead of recording it (sender/deliver.ts). Then its
 * ledger records and its subscriber items on every list go. The ledger is found through an
 * eventually consistent index, so an item written in the last moments may be missed: repeating the
 * erasure is harmless and finds it.
 *
 * Written in the region that takes the request; the deletes replicate to the others like any write.
 */
export async function erasePerson(
  deps: PeopleDeps,
  email: string,
  now: string,
): Promise<PersonErasure | undefined> {
  const [suppression, ledgerItems, memberships] = await Promise.all([
    deps.suppressions.find(email),
    deps.ledger.itemsOf(email),
    membershipsOf(deps, email),
  ]);
  if (!suppression && ledgerItems.length === 0 && memberships.length === 0) return undefined;
  await deps.suppressions.eraseAddress(email, now);
  await deps.ledger.erase(ledgerItems);
  await Promise.all(memberships.map((s) => deps.subscribers.delete(s.listId, email)));
  return {
    subscriptions: memberships.length,
    deliveries: ledgerItems.length,
    suppressionInClear: suppression !== undefined && suppression.reason !== ERASED,
  };
}
