import type { ListStore } from "../adapters/list-store.ts";
import type { StoredSubscriber, SubscriberStore } from "../adapters/subscriber-store.ts";

export interface MembershipDeps {
  readonly lists: Pick<ListStore, "all">;
  readonly subscribers: Pick<SubscriberStore, "memberships">;
}

/** One list an address is on: its subscriber item there, with the list's id and name. */
export type Membership = StoredSubscriber & { readonly listId: string; readonly listName: string };

/**
 * The address's subscriber item on every list, read consistently in the region serving the
 * request. The one home of "every list of a person", for its export, its erasure and its
 * preference center.
 */
export async function membershipsOf(deps: MembershipDeps, email: string): Promise<Membership[]> {
  const lists = await deps.lists.all();
  const names = new Map(lists.map((list) => [list.id, list.name]));
  const memberships = await deps.subscribers.memberships(
    lists.map((list) => list.id),
    email,
  );
  return memberships.map((s) => ({ ...s, listName: names.get(s.listId) ?? "" }));
}
