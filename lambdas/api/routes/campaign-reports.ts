import { z } from "zod";
import { linkReport, timeline } from "../../domain/campaign-reports.ts";
import { NotFoundError } from "../../domain/errors.ts";
import type { RouteHandler } from "../context.ts";
import { json } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { pathId } from "./helpers.ts";

const count = z.number().int().min(0);

export const linksSchema = z.object({
  campaignId: z.string(),
  links: z.array(
    z.object({
      link: z.string(),
      total: count.describe("every click on the link, people's and machines'"),
      unique: count.describe("recipients who clicked it"),
      human: count.describe("clicks people made (not link scanners)"),
      uniqueHuman: count.describe("people who clicked it"),
    }),
  ),
});

export const timelineSchema = z.object({
  campaignId: z.string(),
  hours: z.array(
    z.object({
      hour: z.string().describe("the hour's start, ISO 8601 UTC"),
      sent: count,
      delivered: count,
      bounced: count,
      complained: count,
      opened: count.describe("recipients whose first human open or click falls in the hour"),
      clicked: count.describe("recipients whose first human click falls in the hour"),
      machineOpens: count.describe("opens by mail-privacy proxies and scanners"),
      machineClicks: count.describe("clicks by link scanners"),
    }),
  ),
});

/**
 * The ledger records of a campaign, for its reports: read whole, on each request (every shard in
 * parallel), so a report is as fresh as the ledger.
 */
async function recordsOf(params: Record<string, string>, deps: Parameters<RouteHandler>[2]) {
  const id = pathId(params, "id", "campaign");
  if (!(await deps.campaigns.get(id))) throw new NotFoundError("campaign");
  return { id, records: await deps.ledger.reportRecords(id) };
}

/** GET /v1/campaigns/{id}/links: per link, total, unique and human clicks. */
export const campaignLinks: RouteHandler = async (_event, params, deps) => {
  const { id, records } = await recordsOf(params, deps);
  return json(200, { campaignId: id, links: linkReport(records) });
};

/** GET /v1/campaigns/{id}/timeline: per hour, what happened to the campaign's recipients. */
export const campaignTimeline: RouteHandler = async (_event, params, deps) => {
  const { id, records } = await recordsOf(params, deps);
  return json(200, { campaignId: id, hours: timeline(records) });
};

export const docs = {
  campaignLinks: {
    summary: "Per link clicked: total, unique and human clicks (link scanners are not people)",
    responses: { 200: { description: "the links, most clicked by people first", schema: linksSchema } },
  },
  campaignTimeline: {
    summary: "Per hour: sent, delivered, bounced, complained, opened and clicked",
    responses: {
      200: { description: "the hours with anything in them, oldest first", schema: timelineSchema },
    },
  },
} satisfies Record<string, RouteDoc>;
