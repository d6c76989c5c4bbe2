import type { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import type { ListStore } from "../adapters/list-store.ts";
import type { SubscriberStatus, SubscriberStore } from "../adapters/subscriber-store.ts";
import type { SuppressionStore } from "../adapters/suppression-store.ts";
import type { UnsubscribeClaims } from "../domain/link-token.ts";

export interface PreferencesDeps {
  readonly lists: Pick<ListStore, "all">;
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
  /** On the suppression list: no list mails the address, whatever its toggles say. */
  readonly suppressed: boolean;
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
  const lists = await deps.lists.all();
  const names = new Map(lists.map((list) => [list.id, list.name]));
  const [memberships, suppression] = await Promise.all([
    deps.subscribers.memberships(
      lists.map((list) => list.id),
      email,
    ),
    deps.suppressions.find(email),
  ]);
  return {
    lists: memberships.map((s) => ({
      listId: s.listId,
      listName: names.get(s.listId) ?? "",
      status: s.status,
    })),
    suppressed: suppression !== undefined,
  };
}

/**
 * Applies a choice made from a mailed link: lists switched off are unsubscribed (counted on the
 * link's campaign when it is that list), lists switched back on are subscribed again with the
 * preference center recorded as the consent; "everything" puts the address on the suppression list
 * and unsubscribes it from each list. Choosing lists again lifts only a suppression the preference
 * center itself made. `choice.subscribed` must name only lists the address is on.
 */
export async function applyPreferences(
  deps: PreferencesDeps,
  claims: UnsubscribeClaims,
  current: Preferences,
  choice: PreferenceChoice,
  now: string,
): Promise<void> {
  const { email } = claims;
  if (choice.everything) await deps.suppressions.put(email, EVERYTHING_REASON, now);
  for (const list of current.lists) {
    const wanted = !choice.everything && choice.subscribed.has(list.listId);
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
  if (!choice.everything && choice.subscribed.size > 0 && current.suppressed) {
    const suppression = await deps.suppressions.find(email);
    if (suppression?.reason === EVERYTHING_REASON) await deps.suppressions.delete(email);
  }
}
