import type { ControlServer } from "./control.ts";
import { ControlError } from "./control.ts";
import {
  INJECTABLE_TYPES,
  type InjectableType,
  type MailboxSimulator,
  REPLAYABLE_TYPES,
  type ReplayableType,
} from "./mailbox-simulator.ts";

/**
 * POST /feedback { "sesMessageId", "type": "Open" | "Click" | "Bounce" | "Complaint" | "Delivery",
 * "at"?, "link"?, "userAgent"?, "ipAddress"? }:
 * publishes one SES event for a message the local SES accepted, through the same feedback queue real
 * events take. 202 when published, 404 for an id the local SES never handed out.
 * POST /feedback/replay { "types": ["Send", "Delivery"] }: publishes those events again for every
 * message the local SES remembers, at once (a burst for measuring the feedback path).
 * POST /feedback/mode { "events": "all" | "simulator" }: which accepted messages get events from now
 * on (`simulator`: only the mailbox simulator's addresses, as if the others' events were lost).
 * GET /feedback: how many events the mailbox simulator published.
 */
export function registerFeedbackRoutes(control: ControlServer, simulator: MailboxSimulator): void {
  control.route("POST", "/feedback", async (raw) => {
    const body = (raw ?? {}) as Record<string, unknown>;
    if (typeof body.sesMessageId !== "string" || !/^[A-Za-z0-9-]{1,200}$/.test(body.sesMessageId))
      throw new ControlError("sesMessageId must be the id SES returned for a send");
    if (!INJECTABLE_TYPES.includes(body.type as InjectableType))
      throw new ControlError(`type must be one of ${INJECTABLE_TYPES.join(", ")}`);
    const details: Record<string, string> = {};
    for (const name of ["at", "link", "userAgent", "ipAddress"] as const) {
      const value = body[name];
      if (value === undefined) continue;
      if (typeof value !== "string" || value.length === 0 || value.length > 500)
        throw new ControlError(`${name} must be a string of 1 to 500 characters`);
      details[name] = value;
    }
    if (details.at !== undefined && Number.isNaN(Date.parse(details.at)))
      throw new ControlError("at must be an ISO 8601 time");
    const published = await simulator.inject(body.sesMessageId, body.type as InjectableType, details);
    if (!published)
      return { status: 404, body: { error: { code: "not_found", message: "no such SES message" } } };
    return { status: 202, body: { sesMessageId: body.sesMessageId, type: body.type } };
  });

  control.route("POST", "/feedback/replay", async (raw) => {
    const types = ((raw ?? {}) as Record<string, unknown>).types;
    if (
      !Array.isArray(types) ||
      types.length === 0 ||
      !types.every((t) => REPLAYABLE_TYPES.includes(t as ReplayableType))
    )
      throw new ControlError(`types must be a list of ${REPLAYABLE_TYPES.join(", ")}`);
    return { status: 202, body: { published: await simulator.replay(types as ReplayableType[]) } };
  });

  control.route("POST", "/feedback/mode", async (raw) => {
    const events = ((raw ?? {}) as Record<string, unknown>).events;
    if (events !== "all" && events !== "simulator")
      throw new ControlError('events must be "all" or "simulator"');
    simulator.events = events;
    return { status: 200, body: { events } };
  });

  control.route("GET", "/feedback", () => ({ status: 200, body: simulator.stats }));
}
