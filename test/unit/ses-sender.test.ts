import { GetAccountCommand, SendEmailCommand, SESv2Client } from "@aws-sdk/client-sesv2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { QUOTA_MARGIN, type SenderEvent, SesSender } from "../../lambdas/adapters/ses-sender.ts";

const email = {
  from: "news@example.com",
  to: "a@example.com",
  subject: "s",
  html: "<p>h</p>",
  text: "h",
  campaignId: "c1",
};

const error = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe("SesSender", () => {
  const east = new SESv2Client({ region: "us-east-1" });
  const west = new SESv2Client({ region: "us-west-2" });
  const eastMock = mockClient(east);
  const westMock = mockClient(west);
  let events: SenderEvent[];
  let sender: SesSender;

  beforeEach(() => {
    eastMock.reset();
    westMock.reset();
    eastMock.on(GetAccountCommand).resolves({ SendQuota: { MaxSendRate: 1000 } });
    westMock.on(GetAccountCommand).resolves({ SendQuota: { MaxSendRate: 1000 } });
    events = [];
    sender = new SesSender(
      [
        { region: "us-east-1", client: east },
        { region: "us-west-2", client: west },
      ],
      "steadfast",
      {
        maxSendRate: 1000,
        concurrency: 1,
        failureThreshold: 2,
        cooldownMs: 60_000,
        onEvent: (e) => events.push(e),
      },
    );
  });

  it("sends through the home region with the configuration set and a campaign tag", async () => {
    eastMock.on(SendEmailCommand).resolves({ MessageId: "m1" });
    expect(await sender.send(email)).toEqual({
      ok: true,
      region: "us-east-1",
      messageId: "m1",
      failedOver: false,
    });
    const input = eastMock.commandCalls(SendEmailCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      ConfigurationSetName: "steadfast",
      EmailTags: [{ Name: "campaign", Value: "c1" }],
      Destination: { ToAddresses: ["a@example.com"] },
    });
    expect(westMock.commandCalls(SendEmailCommand)).toHaveLength(0);
  });

  it("fails over on a region error, and skips the home region once its breaker is open", async () => {
    eastMock.on(SendEmailCommand).rejects(error("InternalFailure", 500));
    westMock.on(SendEmailCommand).resolves({ MessageId: "w" });
    for (let i = 0; i < 3; i++) {
      expect(await sender.send(email)).toMatchObject({ ok: true, region: "us-west-2", failedOver: true });
    }
    // Two failures opened the breaker: the third send went straight to us-west-2.
    expect(eastMock.commandCalls(SendEmailCommand)).toHaveLength(2);
    expect(sender.breakerStates()).toEqual({ "us-east-1": "open", "us-west-2": "closed" });
    expect(events.some((e) => e.type === "breaker" && e.region === "us-east-1" && e.to === "open")).toBe(
      true,
    );
    expect(events.filter((e) => e.type === "failover")).toHaveLength(3);
  });

  it("counts an unknown outcome (a 5xx: SES may have sent it) on the send that failed over", async () => {
    eastMock.on(SendEmailCommand).rejects(error("InternalFailure", 500));
    westMock.on(SendEmailCommand).resolves({ MessageId: "w" });
    expect(await sender.send(email)).toMatchObject({ ok: true, region: "us-west-2", unknownOutcomes: 1 });
    // A connection refused never reached SES: failed over, but not a possible duplicate.
    eastMock.reset();
    eastMock
      .on(SendEmailCommand)
      .rejects(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    const refused = await sender.send(email);
    expect(refused).toMatchObject({ ok: true, region: "us-west-2" });
    expect(refused.unknownOutcomes).toBeUndefined();
  });

  it("never fails over when SES pauses or suspends the account's sending", async () => {
    eastMock.on(SendEmailCommand).rejects(error("SendingPausedException", 400));
    westMock.on(SendEmailCommand).resolves({ MessageId: "w" });
    expect(await sender.send(email)).toMatchObject({
      ok: false,
      errorClass: "enforcement",
      region: "us-east-1",
    });
    expect(westMock.commandCalls(SendEmailCommand)).toHaveLength(0);
    expect(sender.breakerStates()["us-east-1"]).toBe("closed");
  });

  it("does not fail over when throttled: the recipient is retried later in the same region", async () => {
    eastMock.on(SendEmailCommand).rejects(error("TooManyRequestsException", 429));
    westMock.on(SendEmailCommand).resolves({ MessageId: "w" });
    expect(await sender.send(email)).toMatchObject({
      ok: false,
      errorClass: "throttled",
      region: "us-east-1",
    });
    expect(westMock.commandCalls(SendEmailCommand)).toHaveLength(0);
  });

  it("stops at a permanent rejection", async () => {
    eastMock.on(SendEmailCommand).rejects(error("MessageRejected", 400));
    expect(await sender.send(email)).toMatchObject({ ok: false, errorClass: "permanent" });
    expect(westMock.commandCalls(SendEmailCommand)).toHaveLength(0);
  });

  it("reports every region unavailable when all fail", async () => {
    eastMock.on(SendEmailCommand).rejects(error("InternalFailure", 500));
    westMock
      .on(SendEmailCommand)
      .rejects(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    expect(await sender.send(email)).toMatchObject({ ok: false, errorClass: "region", unknownOutcomes: 1 });
  });

  it("paces at the lower of the configured cap and just under the SES quota", async () => {
    eastMock.on(GetAccountCommand).resolves({ SendQuota: { MaxSendRate: 5 } });
    eastMock.on(SendEmailCommand).resolves({ MessageId: "m" });
    await sender.send(email);
    expect(QUOTA_MARGIN).toBeLessThan(1);
    expect(events).toContainEqual({
      type: "quota",
      region: "us-east-1",
      maxSendRate: 5,
      rate: 5 * QUOTA_MARGIN,
    });
  });

  it("a new container's concurrent sends all wait for its first quota read: no burst at the cap", async () => {
    eastMock
      .on(GetAccountCommand)
      .callsFake(
        () => new Promise((resolve) => setTimeout(() => resolve({ SendQuota: { MaxSendRate: 2 } }), 100)),
      );
    // Twenty sends at once, each willing to wait 300 ms: at the cap (1000/s) all would get a token;
    // at the quota (2/s, slow start) only the first one does.
    const until = Date.now() + 300;
    const permits = await Promise.all(Array.from({ length: 20 }, () => sender.reserve(until)));
    expect(permits.filter(Boolean).length).toBeLessThanOrEqual(2);
    expect(eastMock.commandCalls(GetAccountCommand)).toHaveLength(1);
  });

  /** A sender on a virtual clock that moves only when the sender waits, and its SES mock's calls. */
  function virtualSender(maxSendRate: number) {
    const clock = { now: 1_000_000 };
    const paced = new SesSender([{ region: "us-east-1", client: east }], "steadfast", {
      maxSendRate,
      concurrency: 1,
      now: () => clock.now,
      sleep: async (ms) => {
        clock.now += ms;
      },
    });
    return { paced, clock };
  }

  it("a send whose permit predates a slow-down waits for a token at the new rate", async () => {
    eastMock
      .on(SendEmailCommand)
      .rejectsOnce(error("TooManyRequestsException", 429))
      .rejectsOnce(error("TooManyRequestsException", 429))
      .resolves({ MessageId: "m" });
    const { paced, clock } = virtualSender(10);
    const permits = [];
    for (let i = 0; i < 3; i++) permits.push(await paced.reserve(clock.now + 60_000));
    const [first, second, third] = permits;
    expect(await paced.send(email, first)).toMatchObject({ ok: false, errorClass: "throttled" });
    // The second 429 within a second slows the region down.
    expect(await paced.send(email, second)).toMatchObject({ ok: false, errorClass: "throttled" });
    const before = clock.now;
    expect(await paced.send(email, third)).toMatchObject({ ok: true });
    // Its token was taken at 5/s; it waited for one at the new, lower rate (without: no wait).
    expect(clock.now - before).toBeGreaterThanOrEqual(300);
    expect(eastMock.commandCalls(SendEmailCommand)).toHaveLength(3);
  });

  it("a send whose permit predates a slow-down goes back as throttled, without an SES call, when no token comes within a second", async () => {
    eastMock.on(SendEmailCommand).rejects(error("TooManyRequestsException", 429));
    const { paced, clock } = virtualSender(1);
    const permits = [];
    for (let i = 0; i < 3; i++) permits.push(await paced.reserve(clock.now + 60_000));
    const [first, second, third] = permits;
    await paced.send(email, first);
    await paced.send(email, second);
    const before = clock.now;
    expect(await paced.send(email, third)).toMatchObject({ ok: false, errorClass: "throttled" });
    expect(clock.now).toBe(before);
    expect(eastMock.commandCalls(SendEmailCommand)).toHaveLength(2);
  });

  it("a first quota read that hangs holds sends back a second at most", async () => {
    eastMock.on(GetAccountCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    expect(await sender.reserve(Date.now() + 5_000)).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("reserves the home region's token ahead of the send, and answers no permit when it would come too late", async () => {
    eastMock.on(GetAccountCommand).resolves({ SendQuota: { MaxSendRate: 2 } });
    eastMock.on(SendEmailCommand).resolves({ MessageId: "m" });
    const first = await sender.reserve(Date.now() + 100);
    expect(first).toEqual({ region: "us-east-1", spent: false, generation: 0 });
    // At 2/s the next token is half a second away: not within 100 ms.
    expect(await sender.reserve(Date.now() + 100)).toBeUndefined();
    // The permit pays for its send: no second wait.
    const started = Date.now();
    expect(await sender.send(email, first)).toMatchObject({ ok: true, region: "us-east-1" });
    expect(Date.now() - started).toBeLessThan(250);
    expect(first?.spent).toBe(true);
  });

  it("takes the next region's token for a permit when the home region's breaker is open", async () => {
    eastMock.on(SendEmailCommand).rejects(error("InternalFailure", 500));
    westMock.on(SendEmailCommand).resolves({ MessageId: "w" });
    await sender.send(email);
    await sender.send(email);
    expect(sender.breakerStates()["us-east-1"]).toBe("open");
    const permit = await sender.reserve(Date.now() + 1_000);
    expect(permit?.region).toBe("us-west-2");
    expect(await sender.send(email, permit)).toMatchObject({ ok: true, region: "us-west-2" });
  });

  it("gives an unspent permit's token back", async () => {
    eastMock.on(GetAccountCommand).resolves({ SendQuota: { MaxSendRate: 1 } });
    const permit = await sender.reserve(Date.now() + 100);
    expect(await sender.reserve(Date.now() + 100)).toBeUndefined();
    sender.release(permit as NonNullable<typeof permit>);
    expect(await sender.reserve(Date.now() + 100)).toBeDefined();
  });

  it("spreads: takes a token from another healthy region when home has none, and calls that no failover", async () => {
    let now = 1_000_000;
    const spread = new SesSender(
      [
        { region: "us-east-1", client: east },
        { region: "us-west-2", client: west },
      ],
      "steadfast",
      {
        maxSendRate: 10,
        concurrency: 1,
        mode: "spread",
        now: () => now,
        sleep: async (ms) => {
          now += ms;
        },
        onEvent: (e) => events.push(e),
      },
    );
    eastMock.on(SendEmailCommand).resolves({ MessageId: "e" });
    westMock.on(SendEmailCommand).resolves({ MessageId: "w" });
    const regions: string[] = [];
    const started = now;
    for (let i = 0; i < 20; i++) {
      const permit = await spread.reserve(now + 60_000);
      if (!permit) throw new Error("no permit");
      const outcome = await spread.send(email, permit);
      expect(outcome).toMatchObject({ ok: true, region: permit.region, failedOver: false });
      regions.push(permit.region);
    }
    // Home first while it has tokens, the other region for what home cannot take: both at their rate.
    expect(regions[0]).toBe("us-east-1");
    expect(regions.filter((r) => r === "us-west-2").length).toBeGreaterThanOrEqual(8);
    expect(regions.filter((r) => r === "us-east-1").length).toBeGreaterThanOrEqual(8);
    expect(events.filter((e) => e.type === "failover")).toHaveLength(0);
    // Two regions at up to 10/s each: 20 sends in about a second, not two.
    expect(now - started).toBeLessThan(1_700);
  });

  it("does not spread by default: a failover sender takes tokens only from home", async () => {
    const permits = await Promise.all([
      sender.reserve(Date.now() + 5_000),
      sender.reserve(Date.now() + 5_000),
    ]);
    expect(permits.map((p) => p?.region)).toEqual(["us-east-1", "us-east-1"]);
  });
});
