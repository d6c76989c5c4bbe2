import type { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import type { SubscriberStatus, SubscriberStore } from "../adapters/subscriber-store.ts";
import type { SuppressionStore } from "../adapters/suppression-store.ts";
import type { UnsubscribeClaims } from "../domain/link-token.ts";
import { type MembershipDeps, membershipsOf } from "./memberships.ts";

export interface PreferencesDeps extends MembershipDeps {
  readonly subscribers: Pick<SubscriberStore, "memberships" | "update" | "unsubscribe">;
  readonly suppressions: Pick<SuppressionStore, "find" | "put" | "delete">;
  readonly counters: Pick<CampaignCounterStore, "increment">;
}

/** One list the address is on, as the preference center shows it. */
interface Preference {
  readonly listId: string;
  readonly listName: string;
  readonly status: SubscriberStatus;
}

export interface Preferences {
  readonly lists: Preference[];
  /** Why the address is on the suppression list, when it is: no list mails it, whatever its toggles say. */
  readonly suppression?: string;
}

/** What a person chose: the lists to be on, or nothing at all from anyone. */
export interface PreferenceChoice {
  readonly subscribed: ReadonlySet<string>;
  readonly everything: boolean;
}

/** The suppression reason "unsubscribe from everything" records; only it is lifted here again. */
const EVERYTHING_REASON = "unsubscribed from everything on the preference center";

/** Who a re-subscription on the preference center is recorded as made by. */
const BY = "preference-center";

/** A list whose address bounced or complained is not the person's to switch back on. */
export const togglable = (status: SubscriberStatus): boolean =>
  status === "subscribed" || status === "unsubscribed";

/** Every list the address is on, and whether it is suppressed. */
export async function preferencesOf(deps: PreferencesDeps, email: string): Promise<Preferences> {
  const [memberships, suppression] = await Promise.all([
    membershipsOf(deps, email),
    deps.suppressions.find(email),
  ]);
  return {
    lists: memberships.map((s) => ({ listId: s.listId, listName: s.listName, status: s.status })),
    ...(suppression ? { suppression: suppression.reason } : {}),
  };
}

/**
 * Applies a choice made from a mailed link: lists switched off are unsubscribed (counted on the
 * link's campaign when it is that list), lists switched back on are subscribed again with the
 * preference center recorded as the consent; "everything" puts the address on the suppression list
 * and unsubscribes it from each list. Choosing lists again lifts only a suppression the preference
 * center itself made. `choice.subscribed` must name only lists the address is on. Answers the
 * preferences as they now stand.
 */
export async function applyPreferences(
  deps: PreferencesDeps,
  claims: UnsubscribeClaims,
  current: Preferences,
  choice: PreferenceChoice,
  now: string,
): Promise<Preferences> {
  const { email } = claims;
  if (choice.everything) await deps.suppressions.put(email, EVERYTHING_REASON, now);
  const lists: Preference[] = [];
  for (const list of current.lists) {
    const wanted = !choice.everything && choice.subscribed.has(list.listId);
    lists.push(togglable(list.status) ? { ...list, status: wanted ? "subscribed" : "unsubscribed" } : list);
    if (!wanted && list.status === "subscribed") {
      const counted = claims.campaignId && claims.listId === list.listId;
      await deps.subscribers.unsubscribe(
        list.listId,
        email,
        now,
        counted ? deps.counters.increment(claims.campaignId, { unsubscribed: 1 }) : undefined,
      );
    } else if (wanted && list.status === "unsubscribed") {
      await deps.subscribers.update(
        list.listId,
        email,
        {
          status: "subscribed",
          resubscribe: { at: now, by: BY, consent: "chose the list on the preference center" },
        },
        now,
      );
    }
  }
  if (choice.everything) return { lists, suppression: EVERYTHING_REASON };
  if (choice.subscribed.size > 0 && current.suppression === EVERYTHING_REASON) {
    await deps.suppressions.delete(email);
    return { lists };
  }
  return { lists, ...(current.suppression ? { suppression: current.suppression } : {}) };
}
