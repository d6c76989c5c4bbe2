import { describe, expect, it } from "vitest";
import {
  assignments,
  type CampaignControl,
  splitContent,
  statusIn,
  type StoredCampaign,
  toContent,
  withContent,
} from "../../lambdas/adapters/campaign-items.ts";

const draft: StoredCampaign = {
  id: "c1",
  listId: "l1",
  from: "news@example.com",
  subject: "Hello",
  html: "<p>hi</p>",
  text: "hi",
  status: "draft",
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
};

describe("campaign items", () => {
  it("cuts a campaign into its control item and its content item, and puts them back together", () => {
    const { control, content } = splitContent(draft);
    expect(content).toEqual({ subject: "Hello", html: "<p>hi</p>", text: "hi" });
    expect(Object.keys(control).sort()).toEqual(["createdAt", "from", "id", "listId", "status", "updatedAt"]);
    expect(withContent(control as CampaignControl, toContent(content))).toEqual(draft);
  });

  it("takes only the content from a campaign read earlier: its stale status does not come back", () => {
    const { control } = splitContent({ ...draft, status: "queued", fanoutEnqueuedAt: "later" });
    const shown = withContent(control as CampaignControl, draft);
    expect([shown.status, shown.fanoutEnqueuedAt, shown.html]).toEqual(["queued", "later", "<p>hi</p>"]);
  });

  it("spells an update's placeholders apart from the status condition's, so both fit one request", () => {
    const condition = statusIn(["draft", "scheduled"]);
    const update = assignments({ status: "queued", "intentApplied:us-east-1": "t" }, ["pausedReason"]);
    expect(update.expression).toBe("SET #a0 = :a0, #a1 = :a1 REMOVE #d0");
    expect(update.names).toEqual({
      "#a0": "status",
      "#a1": "intentApplied:us-east-1",
      "#d0": "pausedReason",
    });
    const shared = Object.keys(update.values).filter((key) => key in condition.values);
    expect(shared).toEqual([]);
    expect(assignments({}).expression).toBe("");
  });
});
