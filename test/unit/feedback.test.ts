import { linkReport, timeline } from "../../lambdas/domain/campaign-reports.ts";
import { TEST_SEND_TAG } from "../../lambdas/contracts/events.ts";
import { ENGAGEMENT_LIMIT } from "../../lambdas/domain/engagement.ts";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { FirstTime, LedgerRef } from "../../lambdas/adapters/ledger-items.ts";
import { fakeOwnership } from "./ownership-fakes.ts";
import { type FeedbackCounter, zeroCounters } from "../../lambdas/domain/feedback-counters.ts";
import { parseFeedbackMessage, suppressionFor } from "../../lambdas/domain/feedback-event.ts";
import { reputationVerdict } from "../../lambdas/domain/reputation.ts";
import { type FeedbackNotice, FeedbackProcessor } from "../../lambdas/feedback/process.ts";

// The SES event-publishing samples from the AWS developer guide, as published.
const FIXTURE_DIR = new URL("../fixtures/ses-events/", import.meta.url);
const fixtures = new Map(
  readdirSync(FIXTURE_DIR).map((file) => [
    file.replace(/^event-publishing\.|\.json$/g, ""),
    readFileSync(new URL(file, FIXTURE_DIR), "utf8"),
  ]),
);
const fixture = (name: string) => JSON.parse(fixtures.get(name) ?? "null") as Record<string, unknown>;
const MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000";

const eventBridge = (detail: unknown) =>
  JSON.stringify({ version: "0", id: "1", "detail-type": "Email Bounced", source: "aws.ses", detail });
const sns = (message: unknown) => JSON.stringify({ Type: "Notification", Message: JSON.stringify(message) });

describe("parsing SES events", () => {
  it("has all ten samples", () => {
    expect([...fixtures.keys()].sort()).toEqual(
      [
        "bounce-permanent",
        "click",
        "complaint",
        "delivery",
        "delivery-delay",
        "open",
        "reject",
        "rendering-failure",
        "send",
        "subscription",
      ].sort(),
    );
  });

  it.each([...fixtures.keys()])("parses the %s sample bare, in EventBridge and in SNS", (name) => {
    const raw = fixtures.get(name) as string;
    for (const body of [raw, eventBridge(JSON.parse(raw)), sns(JSON.parse(raw))]) {
      const parsed = parseFeedbackMessage(body);
      if (!parsed.ok) throw new Error(parsed.error);
      expect(parsed.event.mail.messageId).toMatch(/^EXAMPLE/);
      expect(parsed.event.type).toBe((JSON.parse(raw) as { eventType: string }).eventType);
      expect(parsed.event.at).toMatch(/^20\d\d-/);
    }
  });

  it("reads the details each type carries", () => {
    const parse = (name: string) => {
      const p = parseFeedbackMessage(fixtures.get(name) as string);
      if (!p.ok) throw new Error(p.error);
      return p.event;
    };
    expect(parse("bounce-permanent").bounce).toEqual({
      bounceType: "Permanent",
      bounceSubType: "General",
      recipients: ["recipient@example.com"],
      diagnostic: "smtp; 550 5.1.1 user unknown",
    });
    expect(parse("bounce-permanent").at).toBe("2017-08-05T00:41:02.669Z");
    expect(parse("complaint").complaint).toEqual({
      recipients: ["recipient@example.com"],
      feedbackType: "abuse",
    });
    expect(parse("click").click?.link).toBe(
      "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
    );
    expect(parse("reject").reject?.reason).toBe("Bad content");
    expect(parse("rendering-failure").failure?.errorMessage).toMatch(/attributeName/);
    expect(parse("delivery-delay").deliveryDelay?.delayType).toBe("TransientCommunicationFailure");
    expect(parse("send").mail.tags["ses:configuration-set"]).toEqual(["ConfigSet"]);
  });

  it("suppresses on a permanent bounce and any complaint, never on anything else", () => {
    const of = (name: string) => {
      const p = parseFeedbackMessage(fixtures.get(name) as string);
      if (!p.ok) throw new Error(p.error);
      return suppressionFor(p.event);
    };
    expect(of("bounce-permanent")).toEqual({ reason: "bounce", emails: ["recipient@example.com"] });
    expect(of("complaint")).toEqual({ reason: "complaint", emails: ["recipient@example.com"] });
    for (const name of ["send", "delivery", "open", "click", "reject", "rendering-failure", "delivery-delay"])
      expect(of(name), name).toBeUndefined();
    const transient = fixture("bounce-permanent");
    (transient.bounce as Record<string, unknown>).bounceType = "Transient";
    const parsed = parseFeedbackMessage(JSON.stringify(transient));
    expect(parsed.ok && suppressionFor(parsed.event)).toBeUndefined();
  });

  it("reports what is not an SES event, without throwing", () => {
    const bad = [
      "not json",
      "null",
      "[]",
      JSON.stringify({ hello: "world" }),
      JSON.stringify({ eventType: "Explosion", mail: { messageId: "x" } }),
      JSON.stringify({ eventType: "Bounce", mail: {} }),
      JSON.stringify({ eventType: "Bounce", mail: { messageId: "x" }, bounce: {} }),
      JSON.stringify({ Type: "Notification", Message: "{broken" }),
      eventBridge("a string"),
    ];
    for (const body of bad) expect(parseFeedbackMessage(body).ok, body).toBe(false);
  });
});

describe("the reputation guard", () => {
  it("waits for 200 sends, then pauses above 5 % bounces or 0.1 % complaints", () => {
    expect(reputationVerdict({ sent: 199, bounced: 100, complained: 50 })).toBeUndefined();
    expect(reputationVerdict({ sent: 200, bounced: 10, complained: 0 })).toBeUndefined();
    expect(reputationVerdict({ sent: 200, bounced: 11, complained: 0 })).toBe(
      "reputation guard: bounce rate 5.50 % (11 of 200 sent) is above 5.00 %",
    );
    expect(reputationVerdict({ sent: 1000, bounced: 0, complained: 1 })).toBeUndefined();
    expect(reputationVerdict({ sent: 1000, bounced: 0, complained: 2 })).toMatch(
      /^reputation guard: complaint rate 0.20 %/,
    );
  });
});

/** An in-memory store with the same first-time semantics as the DynamoDB transactions. */
class MemoryFeedback {
  readonly ledger = new Map<string, Record<string, string>>();
  readonly refs = new Map<string, LedgerRef>();
  readonly campaigns = new Map<
    string,
    {
      status: string;
      listId: string;
      counters: Record<FeedbackCounter, number>;
      /** What the senders counted as accepted by SES. */
      accepted?: number;
      guard?: { reason: string; at: string };
    }
  >();
  readonly subscribers = new Map<string, string>();
  readonly suppressed = new Map<string, string>();
  readonly notices: FeedbackNotice[] = [];

  addMessage(messageId: string, campaignId: string, email: string) {
    const ref = { pk: `C#${campaignId}#00`, sk: `R#${email}`, campaignId, email };
    this.refs.set(messageId, ref);
    this.ledger.set(ref.sk + campaignId, {});
    if (!this.campaigns.has(campaignId))
      this.campaigns.set(campaignId, { status: "sending", listId: "L", counters: zeroCounters() });
    this.subscribers.set(email, "subscribed");
  }

  processor() {
    return new FeedbackProcessor({
      ledger: {
        findAll: async (messages) => messages.map((m) => this.refs.get(m.messageId)),
        // The counter writes travel with the flags, as in the DynamoDB transaction.
        recordFirstAll: async (facts, alsoWrite): Promise<FirstTime[]> => {
          const outcomes: FirstTime[] = [];
          const recorded: (typeof facts)[number][] = [];
          for (const { ref, flag, at, sets } of facts) {
            const item = this.ledger.get(ref.sk + ref.campaignId) as Record<string, string>;
            if (item[flag]) {
              outcomes.push("duplicate");
              continue;
            }
            Object.assign(item, { [flag]: at }, sets);
            recorded.push(facts[outcomes.length] as (typeof facts)[number]);
            outcomes.push("recorded");
          }
          for (const write of alsoWrite(recorded)) {
            const { id, counts } = write as unknown as {
              id: string;
              counts: Record<FeedbackCounter, number>;
            };
            const counters = this.campaigns.get(id)?.counters as Record<FeedbackCounter, number>;
            for (const [counter, n] of Object.entries(counts)) counters[counter as FeedbackCounter] += n;
          }
          return outcomes;
        },
        recordAlways: async (ref, sets) => {
          Object.assign(this.ledger.get(ref.sk + ref.campaignId) as object, sets);
        },
        recordEngagement: async (entries) => {
          for (const { ref, entry } of entries) {
            const item = this.ledger.get(ref.sk + ref.campaignId) as { engagement?: Set<string> };
            item.engagement ??= new Set();
            if (item.engagement.size < ENGAGEMENT_LIMIT) item.engagement.add(entry);
          }
        },
      },
      campaigns: {
        get: async (id) => {
          const c = this.campaigns.get(id);
          return (
            c &&
            ({
              id,
              status: c.status,
              listId: c.listId,
              feedback: { ...c.counters },
              ...(c.accepted === undefined ? {} : { accepted: c.accepted }),
              ...(c.guard ? { reputationGuard: c.guard } : {}),
            } as never)
          );
        },
        transition: async (id, action, _now, extra) => {
          const c = this.campaigns.get(id);
          if (action !== "pause" || !c || !["queued", "sending"].includes(c.status)) return undefined;
          c.status = "paused";
          (c as { pausedReason?: string }).pausedReason = extra?.pausedReason as string;
          return { id, status: c.status } as never;
        },
      },
      counters: {
        increment: (id, counts) => ({ id, counts }) as never,
        markGuardTripped: async (id, reason, at) => {
          const c = this.campaigns.get(id);
          if (!c || c.guard) return false;
          c.guard = { reason, at };
          return true;
        },
      },
      agenda: { markActive: async () => {} },
      ownership: fakeOwnership({ region: "us-east-1" }).ownership,
      subscribers: {
        markFeedback: async (_list, email, status) => {
          if (this.subscribers.get(email) === "subscribed") this.subscribers.set(email, status);
        },
      },
      suppressions: {
        put: async (email, reason, now) => {
          if (!this.suppressed.has(email)) this.suppressed.set(email, reason);
          return { email, reason, createdAt: now };
        },
      },
      now: () => new Date("2026-01-01T00:00:00Z"),
      onNotice: (n) => this.notices.push(n),
    });
  }
}

function eventFor(name: string, messageId: string, recipient: string) {
  const raw = fixtures.get(name) as string;
  const parsed = parseFeedbackMessage(
    raw.replaceAll(MESSAGE_ID, messageId).replaceAll("recipient@example.com", recipient),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.event;
}

describe("the feedback processor", () => {
  it("puts every sample through and updates what each event type updates", async () => {
    const memory = new MemoryFeedback();
    memory.addMessage(MESSAGE_ID, "c1", "recipient@example.com");
    const processor = memory.processor();
    const outcomes: Record<string, string> = {};
    for (const name of fixtures.keys())
      outcomes[name] = await processor.process(eventFor(name, MESSAGE_ID, "recipient@example.com"));
    expect(outcomes).toEqual({
      "bounce-permanent": "recorded",
      click: "recorded",
      complaint: "recorded",
      delivery: "recorded",
      "delivery-delay": "recorded",
      open: "recorded",
      reject: "recorded",
      "rendering-failure": "recorded",
      send: "recorded",
      subscription: "ignored",
    });
    expect(memory.campaigns.get("c1")?.counters).toEqual({
      sent: 1,
      delivered: 1,
      bounced: 1,
      complained: 1,
      opened: 1,
      clicked: 1,
      unsubscribed: 0,
    });
    expect(memory.ledger.get("R#recipient@example.comc1")).toMatchObject({
      sendEventAt: "2016-10-14T05:02:16.645Z",
      deliveredAt: "2016-10-19T23:21:04.133Z",
      bouncedAt: "2017-08-05T00:41:02.669Z",
      bounceType: "Permanent",
      bounceSubType: "General",
      complainedAt: "2017-08-05T00:41:02.669Z",
      complaintFeedbackType: "abuse",
      openedAt: expect.any(String) as unknown,
      clickedAt: "2017-08-09T23:51:25.570Z",
      clickedLink: "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
      rejectReason: "Bad content",
      renderingError: expect.stringMatching(/attributeName/) as unknown,
      delayType: "TransientCommunicationFailure",
    });
    expect(memory.suppressed.get("recipient@example.com")).toBe("bounce");
    expect(memory.subscribers.get("recipient@example.com")).toBe("bounced");
  });

  it.each([1, 25])("keeps counters exact under duplicated and shuffled events, %i a batch", async (batch) => {
    const memory = new MemoryFeedback();
    const script: [string, string, string][] = [];
    for (let i = 0; i < 40; i++) {
      const id = `m${i}`;
      const email = `r${i}@example.com`;
      memory.addMessage(id, "c2", email);
      script.push(["send", id, email]);
      if (i % 10 === 0) script.push(["bounce-permanent", id, email]);
      else script.push(["delivery", id, email]);
      if (i % 3 === 0) script.push(["open", id, email], ["open", id, email]);
      if (i % 4 === 0) script.push(["click", id, email]);
      if (i === 7) script.push(["complaint", id, email]);
    }
    // Every event twice, in a seeded random order (complaints before sends and the like).
    const events = [...script, ...script];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = events.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [events[i], events[j]] = [events[j] as [string, string, string], events[i] as [string, string, string]];
    }
    const processor = memory.processor();
    const parsed = events.map(([name, id, email]) => eventFor(name, id, email));
    for (let i = 0; i < parsed.length; i += batch) await processor.processAll(parsed.slice(i, i + batch));
    expect(memory.campaigns.get("c2")?.counters).toEqual({
      sent: 40,
      delivered: 36,
      bounced: 4,
      complained: 1,
      opened: 14,
      clicked: 10,
      unsubscribed: 0,
    });
    const duplicates = memory.notices.filter((n) => n.type === "recorded" && !n.first).length;
    expect(duplicates).toBe(script.length + 14); // the second copy of everything, plus the repeated opens
    // Each open and click is kept once, so the reports built from the ledger are exact too.
    const records = [...memory.ledger.values()].map((item) => ({
      ...item,
      status: "sent",
      engagement: [...((item as { engagement?: Set<string> }).engagement ?? [])],
    }));
    expect(linkReport(records)).toEqual([
      {
        link: "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        total: 10,
        unique: 10,
        human: 10,
        uniqueHuman: 10,
      },
    ]);
    expect(timeline(records).map(({ sent: _, machineOpens: _o, machineClicks: _c, ...row }) => row)).toEqual([
      { hour: "2016-10-19T23:00:00.000Z", delivered: 36, bounced: 0, complained: 0, opened: 0, clicked: 0 },
      { hour: "2017-08-05T00:00:00.000Z", delivered: 0, bounced: 4, complained: 1, opened: 0, clicked: 0 },
      { hour: "2017-08-09T22:00:00.000Z", delivered: 0, bounced: 0, complained: 0, opened: 14, clicked: 0 },
      // Recipients who clicked without an open recorded opened it too.
      { hour: "2017-08-09T23:00:00.000Z", delivered: 0, bounced: 0, complained: 0, opened: 6, clicked: 10 },
    ]);
  });

  it("leaves a test send's events outside the ledger and counters, and still suppresses its bounce", async () => {
    const memory = new MemoryFeedback();
    memory.addMessage(MESSAGE_ID, "c1", "recipient@example.com");
    const processor = memory.processor();
    const asTest = (name: string) => {
      const event = eventFor(name, MESSAGE_ID, "recipient@example.com");
      return { ...event, mail: { ...event.mail, tags: { ...event.mail.tags, [TEST_SEND_TAG]: ["true"] } } };
    };
    expect(await processor.processAll(["open", "click", "delivery", "bounce-permanent"].map(asTest))).toEqual(
      ["ignored", "ignored", "ignored", "ignored"],
    );
    expect(memory.ledger.get("R#recipient@example.comc1")).toEqual({});
    expect(Object.values(memory.campaigns.get("c1")?.counters ?? {}).every((n) => n === 0)).toBe(true);
    expect(memory.suppressed.get("recipient@example.com")).toBe("bounce");
  });

  it("suppresses a bounce it cannot match, and reports the event unmatched so it is retried", async () => {
    const memory = new MemoryFeedback();
    const processor = memory.processor();
    expect(await processor.process(eventFor("bounce-permanent", "unknown", "gone@example.com"))).toBe(
      "unmatched",
    );
    expect(memory.suppressed.get("gone@example.com")).toBe("bounce");
    expect(await processor.process(eventFor("delivery", "unknown", "gone@example.com"))).toBe("unmatched");
  });

  it("pauses the campaign once, with the reason, when 20 of 300 bounce", async () => {
    const memory = new MemoryFeedback();
    const processor = memory.processor();
    for (let i = 0; i < 300; i++) memory.addMessage(`m${i}`, "c3", `r${i}@example.com`);
    // Bounces arrive early, before 200 sends: no verdict yet.
    for (let i = 0; i < 20; i++) {
      await processor.process(eventFor("send", `m${i}`, `r${i}@example.com`));
      await processor.process(eventFor("bounce-permanent", `m${i}`, `r${i}@example.com`));
    }
    for (let i = 20; i < 199; i++) await processor.process(eventFor("send", `m${i}`, `r${i}@example.com`));
    expect(memory.campaigns.get("c3")?.status).toBe("sending");
    for (let i = 199; i < 300; i++) await processor.process(eventFor("send", `m${i}`, `r${i}@example.com`));
    const campaign = memory.campaigns.get("c3") as { status: string; pausedReason?: string };
    expect(campaign.status).toBe("paused");
    expect(campaign.pausedReason).toBe(
      "reputation guard: bounce rate 10.00 % (20 of 200 sent) is above 5.00 %",
    );
    expect(memory.notices.filter((n) => n.type === "paused")).toEqual([
      { type: "paused", campaignId: "c3", reason: campaign.pausedReason, paused: true },
    ]);
  });

  it("divides by what the senders counted as accepted when Send events were lost", async () => {
    const memory = new MemoryFeedback();
    const processor = memory.processor();
    for (let i = 0; i < 300; i++) memory.addMessage(`m${i}`, "c5", `r${i}@example.com`);
    // 250 sends accepted, but EventBridge delivered only the Send events of the bounced ones.
    (memory.campaigns.get("c5") as { accepted?: number }).accepted = 250;
    for (let i = 0; i < 20; i++) {
      await processor.process(eventFor("send", `m${i}`, `r${i}@example.com`));
      await processor.process(eventFor("bounce-permanent", `m${i}`, `r${i}@example.com`));
    }
    const campaign = memory.campaigns.get("c5") as { status: string; pausedReason?: string };
    expect(campaign.status).toBe("paused");
    expect(campaign.pausedReason).toMatch(/^reputation guard: bounce rate \d+\.\d\d % \(1\d of 250 sent\)/);
  });

  it("still flags (and alarms) a campaign that finished before its rate was judged, without pausing it", async () => {
    const memory = new MemoryFeedback();
    const processor = memory.processor();
    for (let i = 0; i < 200; i++) memory.addMessage(`m${i}`, "c4", `r${i}@example.com`);
    (memory.campaigns.get("c4") as { status: string }).status = "sent";
    for (let i = 0; i < 200; i++) await processor.process(eventFor("send", `m${i}`, `r${i}@example.com`));
    await processor.process(eventFor("complaint", "m0", "r0@example.com"));
    expect(memory.campaigns.get("c4")?.status).toBe("sent");
    expect(memory.notices.filter((n) => n.type === "paused")).toEqual([
      expect.objectContaining({ campaignId: "c4", paused: false }),
    ]);
  });
});
