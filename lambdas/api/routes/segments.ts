import { randomUUID } from "node:crypto";
import type { Segment } from "../../adapters/segment-store.ts";
import { NotFoundError, ValidationError } from "../../domain/errors.ts";
import { inAudience } from "../../domain/segment.ts";
import { EngagementReader } from "../../usecases/segment-engagement.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import {
  createSegmentSchema,
  pageQuerySchema,
  patchSegmentSchema,
  segmentPageSchema,
  segmentPreviewResultSchema,
  segmentPreviewSchema,
  segmentSchema,
} from "../schemas.ts";
import { NO_CONTENT, paged, pathId } from "./helpers.ts";

/** Addresses a preview shows. */
const SAMPLE_SIZE = 10;

export const createSegment: RouteHandler = async (event, _params, deps) => {
  const input = validate(createSegmentSchema, jsonBody(event));
  const now = deps.now().toISOString();
  const segment: Segment = {
    id: randomUUID(),
    name: input.name,
    rule: input.rule,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  await deps.segments.create(segment);
  return json(201, segment);
};

export const pageSegments: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  return json(200, await paged(() => deps.segments.page(query.limit, query.cursor)));
};

export const getSegment: RouteHandler = async (_event, params, deps) =>
  json(200, await requireSegment(params, deps));

/** Changes a segment's name or rule, one version up. Campaigns already sent keep the version they were sent with. */
export const patchSegment: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "id", "segment");
  const input = validate(patchSegmentSchema, jsonBody(event));
  const segment = await deps.segments.update(id, input, deps.now().toISOString());
  if (!segment) throw new NotFoundError("segment");
  return json(200, segment);
};

export const deleteSegment: RouteHandler = async (_event, params, deps) => {
  const segment = await requireSegment(params, deps);
  if (!(await deps.segments.delete(segment))) throw new NotFoundError("segment");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

/**
 * How many of a list's subscribed addresses the segment holds now (those a campaign to the list
 * with this segment would be for, before exclusions and suppressions), and the first 10 of them
 * in address order. Reads the whole list; nothing is written.
 */
export const previewSegment: RouteHandler = async (event, params, deps) => {
  const segment = await requireSegment(params, deps);
  const input = validate(segmentPreviewSchema, jsonBody(event));
  if (!(await deps.lists.get(input.listId))) {
    throw new ValidationError("body.listId: list does not exist", [
      { path: "body.listId", message: "list does not exist" },
    ]);
  }
  const audience = { include: segment, exclude: [], excludeListIds: [] };
  const engagement = new EngagementReader(deps, audience, deps.now().getTime());
  let count = 0;
  // The list is read in key ranges at once: the sample is the first addresses of the first ranges.
  const samples: string[][] = [];
  await deps.subscribers.fanout.scan(input.listId, async (page, range) => {
    const sample = (samples[range] ??= []);
    const subscribed = await engagement.load(page.filter((s) => s.status === "subscribed"));
    for (const subscriber of subscribed) {
      if (!inAudience(audience, subscriber, engagement.nowMs)) continue;
      count++;
      if (sample.length < SAMPLE_SIZE) sample.push(subscriber.email);
    }
  });
  return json(200, { count, sample: samples.flatMap((s) => s ?? []).slice(0, SAMPLE_SIZE) });
};

async function requireSegment(params: Record<string, string>, deps: Deps): Promise<Segment> {
  const segment = await deps.segments.get(pathId(params, "id", "segment"), true);
  if (!segment) throw new NotFoundError("segment");
  return segment;
}

export const docs = {
  createSegment: {
    summary: "Save a segment: a name and a rule tree",
    body: createSegmentSchema,
    responses: { 201: { description: "created", schema: segmentSchema } },
  },
  pageSegments: {
    summary: "Segments, newest first",
    query: pageQuerySchema,
    responses: { 200: { description: "a page", schema: segmentPageSchema } },
  },
  getSegment: {
    summary: "A segment",
    responses: { 200: { description: "the segment", schema: segmentSchema } },
  },
  patchSegment: {
    summary: "Change a segment's name or rule (one version up)",
    body: patchSegmentSchema,
    responses: { 200: { description: "the segment", schema: segmentSchema } },
  },
  deleteSegment: {
    summary: "Delete a segment (campaigns sent with it keep their copy)",
    responses: NO_CONTENT,
  },
  previewSegment: {
    summary: "How many of a list's subscribed addresses the segment holds now, and 10 of them",
    body: segmentPreviewSchema,
    responses: { 200: { description: "count and sample", schema: segmentPreviewResultSchema } },
  },
} satisfies Record<string, RouteDoc>;
