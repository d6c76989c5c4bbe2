import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import { mapLimit } from "../shared/concurrency.ts";

export interface ErasureDeps {
  readonly ledger: LedgerStore;
  readonly campaigns: Pick<CampaignStore, "get">;
}

/**
 * Erases what the delivery ledger holds about some of a list's subscribers (GDPR Art. 17): their
 * items of every campaign sent to `listId`. A person on several lists is erased from one list at a
 * time, so their items of campaigns sent to other lists stay until they are erased there too (or
 * expire). An item whose campaign no longer exists belongs to no other list and is erased as well.
 * Call it before the subscriber items go: the addresses are what finds the ledger items.
 */
export async function eraseLedgerOf(
  deps: ErasureDeps,
  listId: string,
  emails: readonly string[],
): Promise<void> {
  const listOf = new Map<string, Promise<string | undefined>>();
  const campaignList = (campaignId: string): Promise<string | undefined> => {
    let found = listOf.get(campaignId);
    if (!found) {
      found = deps.campaigns.get(campaignId).then((campaign) => campaign?.listId);
      listOf.set(campaignId, found);
    }
    return found;
  };
  await mapLimit(emails, 8, async (email) => {
    const items = await deps.ledger.itemsOf(email);
    const lists = await Promise.all(items.map((item) => campaignList(item.campaignId)));
    const erased = items.filter((_, i) => lists[i] === undefined || lists[i] === listId);
    if (erased.length > 0) await deps.ledger.erase(erased);
  });
}
