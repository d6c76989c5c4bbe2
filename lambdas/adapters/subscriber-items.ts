import type { Consent } from "../domain/opt-in.ts";
import type { Attributes } from "../domain/render.ts";

/** The shapes of subscriber items and of what the subscriber store answers (subscriber-store.ts). */

/** `pending`: on a double opt-in list, until the person confirms by email (never mailed a campaign). */
export type SubscriberStatus = "subscribed" | "unsubscribed" | "bounced" | "complained" | "pending";

export interface Subscriber {
  readonly email: string;
  readonly attributes: Attributes;
  readonly status: SubscriberStatus;
}

/** Who set an opted-out address back to `subscribed`, when, and the consent they recorded. */
export interface Resubscription {
  readonly at: string;
  /** The API key id. */
  readonly by: string;
  readonly consent: string;
}

export interface StoredSubscriber extends Subscriber {
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly resubscribed?: Resubscription;
  /** How the subscription was obtained (absent on subscribers from before consent was kept). */
  readonly consent?: Consent;
}

/** A pending subscriber no confirmation email was asked for yet, and since when it is pending. */
export interface AwaitingConfirmation {
  readonly email: string;
  readonly since: string;
}

/**
 * What an upsert did: whether the list was still there, and which of the addresses are pending
 * without a confirmation email asked for (new subscribers of a double opt-in list, or ones an
 * interrupted request left so).
 */
export interface UpsertResult {
  readonly kept: boolean;
  readonly awaiting: AwaitingConfirmation[];
  /** The addresses new to the list, and those already on it (webhook events). */
  readonly created: readonly string[];
  readonly updated: readonly string[];
}

export type UpdateOutcome =
  | { readonly kind: "updated"; readonly subscriber: StoredSubscriber }
  | { readonly kind: "absent" }
  /** `subscribed` was asked of an opted-out address without a resubscription: nothing changed. */
  | { readonly kind: "opt-out-kept"; readonly status: SubscriberStatus };

export type UnsubscribeOutcome = "unsubscribed" | "unchanged";

/** A subscriber item as the store answers it. */
export function toSubscriber(item: Record<string, unknown>): StoredSubscriber {
  return {
    email: item.email as string,
    attributes: (item.attributes ?? {}) as Attributes,
    status: item.status as SubscriberStatus,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    ...(item.resubscribed ? { resubscribed: item.resubscribed as Resubscription } : {}),
    ...(item.consent ? { consent: item.consent as Consent } : {}),
  };
}
