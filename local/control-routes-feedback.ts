import type { ControlServer } from "./control.ts";
import { ControlError } from "./control.ts";
import { INJECTABLE_TYPES, type InjectableType, type MailboxSimulator } from "./mailbox-simulator.ts";

/**
 * POST /feedback { "sesMessageId", "type": "Open" | "Click" | "Bounce" | "Complaint" | "Delivery" }:
 * publishes one SES event for a message the local SES accepted, through the same feedback queue real
 * events take. 202 when published, 404 for an id the local SES never handed out.
 * GET /feedback: how many events the mailbox simulator published.
 */
export function registerFeedbackRoutes(control: ControlServer, simulator: MailboxSimulator): void {
  control.route("POST", "/feedback", async (raw) => {
    const body = (raw ?? {}) as Record<string, unknown>;
    if (typeof body.sesMessageId !== "string" || !/^[A-Za-z0-9-]{1,200}$/.test(body.sesMessageId))
      throw new ControlError("sesMessageId must be the id SES returned for a send");
    if (!INJECTABLE_TYPES.includes(body.type as InjectableType))
      throw new ControlError(`type must be one of ${INJECTABLE_TYPES.join(", ")}`);
    const published = await simulator.inject(body.sesMessageId, body.type as InjectableType);
    if (!published)
      return { status: 404, body: { error: { code: "not_found", message: "no such SES message" } } };
    return { status: 202, body: { sesMessageId: body.sesMessageId, type: body.type } };
  });

  control.route("GET", "/feedback", () => ({ status: 200, body: simulator.stats }));
}
