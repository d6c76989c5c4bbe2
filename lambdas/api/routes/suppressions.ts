import { z } from "zod";
import { NotFoundError } from "../../domain/errors.ts";
import type { RouteHandler } from "../context.ts";
import { json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { paged, pathAddress } from "./helpers.ts";

const listQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(600).optional(),
});

const putSchema = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, "reason is required")
    .max(200, "reason must be at most 200 characters")
    .refine((v) => !/[\r\n]/.test(v), "reason must not contain CR or LF"),
});

/** GET /v1/suppressions?limit=&cursor= */
export const listSuppressions: RouteHandler = async (event, _params, deps) => {
  const query = validate(listQuerySchema, event.queryStringParameters ?? {}, "query");
  return json(200, await paged(() => deps.suppressions.list(query.limit, query.cursor)));
};

/** PUT /v1/suppressions/{email} { reason }: adds the address, or changes its reason. */
export const putSuppression: RouteHandler = async (event, params, deps) => {
  const email = pathAddress(params);
  const body = validate(putSchema, jsonBody(event));
  const item = await deps.suppressions.put(email, body.reason, deps.now().toISOString(), true);
  return json(200, item);
};

/** DELETE /v1/suppressions/{email}: the address may be mailed again where it is subscribed. */
export const deleteSuppression: RouteHandler = async (_event, params, deps) => {
  const email = pathAddress(params);
  if (!(await deps.suppressions.delete(email))) throw new NotFoundError("suppression");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

export const docs = {
  listSuppressions: { summary: "The account-wide suppression list", query: listQuerySchema },
  putSuppression: { summary: "Suppress an address in every list", body: putSchema },
  deleteSuppression: { summary: "Lift a suppression" },
} satisfies Record<string, RouteDoc>;
