import { NotFoundError } from "../../domain/errors.ts";
import { erasePerson, exportPerson } from "../../usecases/people.ts";
import type { RouteHandler } from "../context.ts";
import { json } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { personErasureSchema, personSchema } from "../audience-schemas.ts";
import { pathAddress } from "./helpers.ts";

/** GET /v1/people/{email} (admin): everything Steadfast holds about the address. */
export const exportPersonRoute: RouteHandler = async (_event, params, deps) =>
  json(200, await exportPerson(deps, pathAddress(params)));

/**
 * DELETE /v1/people/{email} (admin): erases the address everywhere and keeps only its hashed
 * suppression entry. Repeating it is harmless (200, nothing left to erase); 404 when Steadfast never
 * held the address (PUT /v1/suppressions/{email} blocks an address ahead of time).
 */
export const erasePersonRoute: RouteHandler = async (_event, params, deps) => {
  const erased = await erasePerson(deps, pathAddress(params), deps.now().toISOString());
  if (!erased) throw new NotFoundError("person");
  return json(200, erased);
};

export const docs = {
  exportPersonRoute: {
    summary: "Export everything held about an address: subscriptions, delivery records, suppression",
    responses: { 200: { description: "the person's data", schema: personSchema } },
  },
  erasePersonRoute: {
    summary: "Erase an address everywhere, keeping only a hashed suppression entry",
    responses: {
      200: { description: "what was erased (all zero when repeated)", schema: personErasureSchema },
    },
  },
} satisfies Record<string, RouteDoc>;
