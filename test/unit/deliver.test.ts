import { describe, expect, it } from "vitest";
import type { OutgoingEmail } from "../../lambdas/adapters/ses-sender.ts";
import { STATUS_TTL_MS } from "../../lambdas/sender/deliver.ts";
import { ERASED } from "../../lambdas/domain/email.ts";
import { ok, recipients, setup } from "./deliver-fakes.ts";

describe("Delivery", () => {
  it("sends each queued recipient once, renders per recipient, and records sent", async () => {
    const { ledger, sent, delivery } = setup(ok);
    await ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    const results = await delivery.deliver({ campaignId: "c1", recipients: recipients(2) });
    expect(results).toEqual(["sent", "sent"]);
    expect(sent.map((e) => e.subject).sort()).toEqual(["Hi R0", "Hi R1"]);
    expect(sent[0]?.text).toBe(sent[0]?.subject.replace("Hi ", ""));
    expect([...ledger.items.values()].every((i) => i.status === "sent" && i.sesMessageId)).toBe(true);
  });

  it("re-reads only the control items once the status is stale, keeping the content it read first", async () => {
    const clock = { now: 1_000_000, perSendMs: 0 };
    const { ledger, sent, delivery } = setup(ok, "sending", false, clock);
    await ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    await delivery.deliver({ campaignId: "c1", recipients: recipients(1) });
    clock.now += STATUS_TTL_MS + 1;
    const results = await delivery.deliver({ campaignId: "c1", recipients: recipients(2).slice(1) });
    expect(results).toEqual(["sent"]);
    expect(sent.map((e) => e.subject)).toEqual(["Hi R0", "Hi R1"]);
    expect(sent[1]?.html).toContain("R1");
  });

  it("reads a message's suppressions once, and again for a recipient whose turn comes after the status TTL", async () => {
    // The first 4 (parallelism 4) are checked at once against the message's read; sending r3 takes
    // longer than the status TTL, so the last two come after it and read again, and r5 unsubscribed
    // in between.
    const clock = { now: 1_000_000, perSendMs: 0 };
    const reads: string[][] = [];
    const unsubscribed = new Set(["r1@example.com"]);
    const slowR3 = (email: OutgoingEmail) => {
      if (email.to === "r3@example.com") clock.now += STATUS_TTL_MS + 1;
      return ok();
    };
    const { ledger, sent, delivery } = setup(slowR3, "sending", false, clock, 1e9, (emails) => {
      reads.push([...emails]);
      const reasons = new Map([...unsubscribed].map((email) => [email, "unsubscribed"] as const));
      unsubscribed.add("r5@example.com");
      return new Map([...reasons].filter(([email]) => emails.includes(email)));
    });
    const all = recipients(6);
    await ledger.createQueued(
      "c1",
      all.map((r) => r.email),
    );
    const results = await delivery.deliver({ campaignId: "c1", recipients: all });
    expect(results).toEqual(["sent", "suppressed", "sent", "sent", "sent", "suppressed"]);
    expect(reads).toEqual([all.map((r) => r.email), ["r4@example.com"], ["r5@example.com"]]);
    expect(sent.map((e) => e.to).sort()).toEqual([
      "r0@example.com",
      "r2@example.com",
      "r3@example.com",
      "r4@example.com",
    ]);
  });

  it("sends only what it can record before the deadline and hands the rest back queued", async () => {
    // Each SES call takes 1 s; 4 at a time; claims stop once less than 5 s is left of 7 s.
    const clock = { now: 1_000_000, perSendMs: 1_000 };
    const { ledger, sent, delivery } = setup(ok, "sending", false, clock);
    await ledger.createQueued(
      "c1",
      recipients(12).map((r) => r.email),
    );
    const results = await delivery.deliver(
      { campaignId: "c1", recipients: recipients(12) },
      clock.now + 7_000,
    );
    const sentCount = results.filter((r) => r === "sent").length;
    expect(sentCount).toBeGreaterThan(0);
    expect(sentCount).toBeLessThan(12);
    expect(results.filter((r) => r === "deferred")).toHaveLength(12 - sentCount);
    expect(sent).toHaveLength(sentCount);
    // Deferred recipients are queued, none left under a claim: the next message can take them at once.
    const queued = [...ledger.items.values()].filter((i) => i.status === "queued");
    expect(queued).toHaveLength(12 - sentCount);
  });

  it("takes a send token before claiming: under throttling, who would wait past the claim deadline is deferred unclaimed", async () => {
    // One send a second; claims stop 5 s before the 8 s deadline: tokens at 0, 1, 2 and 3 s.
    const clock = { now: 1_000_000, perSendMs: 0 };
    const { ledger, sent, delivery } = setup(ok, "sending", false, clock, 1);
    await ledger.createQueued(
      "c1",
      recipients(12).map((r) => r.email),
    );
    const results = await delivery.deliver(
      { campaignId: "c1", recipients: recipients(12) },
      clock.now + 8_000,
    );
    expect(results.filter((r) => r === "sent")).toHaveLength(4);
    expect(results.filter((r) => r === "deferred")).toHaveLength(8);
    expect(sent).toHaveLength(4);
    // No claim was taken and left waiting for a token: the deferred eight are untouched.
    const claimed = [...ledger.items.values()].filter((i) => i.attempts > 0);
    expect(claimed).toHaveLength(4);
    expect(claimed.every((i) => i.status === "sent")).toBe(true);
  });

  it("gives send tokens to the messages of an invocation in turn: what it has no time for is a whole message", async () => {
    // One send a second; claims stop 5 s before the 10 s deadline: 6 tokens, for 2 messages of 6
    // with 4 recipients handled at once. The first message takes them all; the second is handed
    // back whole, unclaimed (not the tail of each: 4 sent of the first and 2 of the second).
    const clock = { now: 1_000_000, perSendMs: 0 };
    const { ledger, sent, delivery } = setup(ok, "sending", false, clock, 1);
    const all = recipients(12);
    await ledger.createQueued(
      "c1",
      all.map((r) => r.email),
    );
    const deadline = clock.now + 10_000;
    const [first, second] = await Promise.all([
      delivery.deliver({ campaignId: "c1", recipients: all.slice(0, 6) }, deadline),
      delivery.deliver({ campaignId: "c1", recipients: all.slice(6) }, deadline),
    ]);
    expect(first).toEqual(Array(6).fill("sent"));
    expect(second).toEqual(Array(6).fill("deferred"));
    expect(sent.map((e) => e.to)).toEqual(all.slice(0, 6).map((r) => r.email));
  });

  it("gives a send token back when the recipient is not sent after all", async () => {
    const clock = { now: 1_000_000, perSendMs: 0 };
    const { ledger, sent, delivery } = setup(ok, "sending", false, clock, 1);
    await ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    await delivery.deliver({ campaignId: "c1", recipients: recipients(1) });
    clock.now += 1_000;
    // r0 again takes the one token there is, is found sent already, and gives the token back...
    expect(
      await delivery.deliver({ campaignId: "c1", recipients: recipients(1) }, clock.now + 5_500),
    ).toEqual(["skipped"]);
    // ...so r1 gets it at once, inside the half second its invocation had for claims.
    const r1 = { email: "r1@example.com", attributes: { name: "R1" } };
    expect(await delivery.deliver({ campaignId: "c1", recipients: [r1] }, clock.now + 5_500)).toEqual([
      "sent",
    ]);
    expect(sent.map((e) => e.to)).toEqual(["r0@example.com", "r1@example.com"]);
  });

  it("pauses the campaign when SES pauses the account's sending, keeping the recipient queued", async () => {
    const { ledger, delivery, paused } = setup(() => ({
      ok: false,
      errorClass: "enforcement",
      region: "us-east-1",
      error: "SendingPausedException: sending paused for this account",
    }));
    await ledger.createQueued("c1", ["r0@example.com"]);
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual(["held"]);
    expect(paused.map((p) => p.campaignId)).toEqual(["c1"]);
    expect(paused[0]?.reason).toContain("SES enforcement in us-east-1: SendingPausedException");
    expect(ledger.items.get("r0@example.com")?.status).toBe("queued");
  });

  it("reports every SES call whose outcome is unknown as a possible duplicate of that recipient", async () => {
    const { ledger, delivery, events } = setup(() => ({ ...ok(), failedOver: true, unknownOutcomes: 1 }));
    await ledger.createQueued("c1", ["r0@example.com"]);
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual(["sent"]);
    expect(events).toContainEqual({
      type: "unknown-outcome",
      campaignId: "c1",
      email: "r0@example.com",
      calls: 1,
    });
  });

  it("gives up recording an accepted send at the invocation's deadline, not only the lease's", async () => {
    // The SES call takes 5 s of the 5.5 s left; the lease (60 s) outlives the invocation, and
    // retrying past the deadline would only be cut short by the invocation's end, mid-write.
    const clock = { now: 1_000_000, perSendMs: 5_000 };
    const { ledger, delivery, events } = setup(ok, "sending", false, clock);
    await ledger.createQueued("c1", ["r0@example.com"]);
    ledger.failCompleteTimes = 1_000;
    const realNow = Date.now();
    await expect(
      delivery.deliver({ campaignId: "c1", recipients: recipients(1) }, clock.now + 5_500),
    ).rejects.toThrow("throttled");
    expect(Date.now() - realNow).toBeLessThan(2_000);
    // Sent and not recorded: counted as a possible duplicate.
    expect(events.filter((e) => e.type === "duplicate-window")).toEqual([
      { type: "duplicate-window", campaignId: "c1" },
    ]);
  });

  it("hands a recipient back unsent when its claim left less than the reserve to record a send", async () => {
    // The claim took 2 s (a slow DynamoDB): 4 s of the 6 s left remain, under the 5 s reserve.
    const clock = { now: 1_000_000, perSendMs: 0 };
    const { ledger, sent, delivery } = setup(ok, "sending", false, clock);
    await ledger.createQueued("c1", ["r0@example.com"]);
    const claim = ledger.claim.bind(ledger);
    ledger.claim = async (...args) => {
      clock.now += 2_000;
      return claim(...args);
    };
    const results = await delivery.deliver(
      { campaignId: "c1", recipients: recipients(1) },
      clock.now + 6_000,
    );
    expect(results).toEqual(["deferred"]);
    expect(sent).toEqual([]);
    expect(ledger.items.get("r0@example.com")?.status).toBe("queued");
  });

  it("records an accepted send when DynamoDB comes back shortly before the deadline", async () => {
    // Real time: DynamoDB fails for 6.1 s after the send, the invocation must be done 7.3 s after it.
    // Retrying at most every 0.5 s records at about 6.25 s; doubling up to 2 s would have tried at
    // 5.75 s and then given up (7.75 s is past the deadline), leaving the recipient to be sent again
    // once its lease ran out.
    const clock = {
      get now() {
        return Date.now();
      },
      set now(_ignored: number) {},
      perSendMs: 0,
    };
    const { ledger, delivery } = setup(ok, "sending", false, clock);
    await ledger.createQueued("c1", ["r0@example.com"]);
    const start = Date.now();
    ledger.failCompleteUntil = start + 6_100;
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(1) }, start + 7_300)).toEqual([
      "sent",
    ]);
    expect(ledger.items.get("r0@example.com")?.status).toBe("sent");
  }, 15_000);

  it("skips recipients a redelivered message already sent, reporting what was recorded for their events", async () => {
    const { ledger, sent, delivery, events } = setup(ok);
    await ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    await delivery.deliver({ campaignId: "c1", recipients: recipients(2) });
    const first = events.filter((e) => e.type === "sent");
    const again = await delivery.deliver({ campaignId: "c1", recipients: recipients(2) });
    expect(again).toEqual(["skipped", "skipped"]);
    expect(sent).toHaveLength(2);
    // The redelivery reports each recorded send, with the SES message id the first handling got, so
    // webhook events lost with the first handling are published again, under the same ids.
    const before = events.flatMap((e) => (e.type === "recorded-before" ? [e.item] : []));
    expect(before.map((i) => [i.email, i.status, i.sesMessageId]).sort()).toEqual(
      first.map((e) => (e.type === "sent" ? [e.email, "sent", e.messageId] : [])).sort(),
    );
  });

  it("records a permanent SES error as failed, and hands throttled recipients back for a retry", async () => {
    const { ledger, delivery } = setup((email) =>
      email.to === "r0@example.com"
        ? { ok: false, errorClass: "permanent", region: "us-east-1", error: "MessageRejected: no" }
        : { ok: false, errorClass: "throttled", region: "us-east-1", error: "TooManyRequestsException" },
    );
    await ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    const results = await delivery.deliver({ campaignId: "c1", recipients: recipients(2) });
    // Throttled apart from other retries: the handler puts them back in a second, not after a backoff.
    expect(results).toEqual(["failed", "throttled"]);
    expect(ledger.items.get("r0@example.com")).toMatchObject({
      status: "failed",
      error: "MessageRejected: no",
    });
    expect(ledger.items.get("r1@example.com")).toMatchObject({ status: "queued", attempts: 1 });
  });

  it("leaves a recipient another worker holds, and retries it later", async () => {
    const { ledger, sent, delivery } = setup(ok);
    await ledger.createQueued("c1", ["r0@example.com"]);
    await ledger.claim("c1", "r0@example.com", 1_000_000, 60_000);
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual(["retry"]);
    expect(sent).toHaveLength(0);
  });

  it("keeps trying to record an accepted send through a DynamoDB hiccup", async () => {
    const { ledger, sent, delivery } = setup(ok);
    await ledger.createQueued("c1", ["r0@example.com"]);
    ledger.failCompleteTimes = 2;
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual(["sent"]);
    expect(sent).toHaveLength(1);
    expect(ledger.items.get("r0@example.com")?.status).toBe("sent");
  });

  it("waits for a running fan-out to write a missing ledger item, and creates it once the fan-out is done", async () => {
    const running = setup(ok);
    expect(await running.delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual([
      "retry",
    ]);
    expect(running.sent).toHaveLength(0);
    expect(running.ledger.items.size).toBe(0);

    const done = setup(ok, "sending", true);
    expect(await done.delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual(["sent"]);
    expect(done.ledger.items.get("r0@example.com")?.status).toBe("sent");
  });

  it("skips a person erased after the fan-out: their ledger item goes, and none is created for them", async () => {
    const erased = (emails: readonly string[]) =>
      new Map(emails.filter((e) => e === "r0@example.com").map((e) => [e, ERASED]));
    const queued = setup(ok, "sending", true, undefined, undefined, erased);
    await queued.ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    expect(await queued.delivery.deliver({ campaignId: "c1", recipients: recipients(2) })).toEqual([
      "skipped",
      "sent",
    ]);
    expect(queued.sent.map((e) => e.to)).toEqual(["r1@example.com"]);
    expect([...queued.ledger.items.keys()]).toEqual(["r1@example.com"]);

    // A message naming them after their item was erased with them: nothing is written back.
    const redriven = setup(ok, "sending", true, undefined, undefined, erased);
    expect(await redriven.delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual([
      "skipped",
    ]);
    expect(redriven.sent).toHaveLength(0);
    expect(redriven.ledger.items.size).toBe(0);
  });

  it("rejects a message for an unknown campaign as poison", async () => {
    const { delivery } = setup(ok);
    await expect(delivery.deliver({ campaignId: "nope", recipients: recipients(1) })).rejects.toThrow(
      "unknown campaign",
    );
  });

  it("holds the recipients of a paused campaign without calling SES", async () => {
    const { ledger, sent, delivery } = setup(ok, "paused");
    await ledger.createQueued("c1", ["r0@example.com", "r1@example.com"]);
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(2) })).toEqual(["held", "held"]);
    expect(sent).toHaveLength(0);
    expect(ledger.items.get("r0@example.com")?.status).toBe("queued");
  });

  it("records the unsent recipients of a cancelled campaign as cancelled", async () => {
    const { ledger, sent, delivery } = setup(ok, "cancelled");
    await ledger.createQueued("c1", ["r0@example.com"]);
    expect(await delivery.deliver({ campaignId: "c1", recipients: recipients(1) })).toEqual(["cancelled"]);
    expect(sent).toHaveLength(0);
    expect(ledger.items.get("r0@example.com")).toMatchObject({
      status: "cancelled",
      reason: "campaign cancelled",
    });
  });
});
