import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signConfirmationToken } from "../../lambdas/domain/link-token.ts";
import { unsubscribeKeySecretName } from "../../lib/stacks/data-stack.ts";
import {
  controlFaults,
  sesStore,
  type StoredEmail,
  SteadfastClient,
  waitForCampaign,
  until,
  sesRawMessage,
} from "../../local/client.ts";
import { LOCAL_CREDENTIALS } from "../../local/local-account.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * Double opt-in on the local runtime: from PUT to confirmed through the real SES emulators (the mail
 * parsed, its link followed), the proof of consent, expired and forged links refused, pending
 * subscribers never mailed a campaign, re-sends rate-limited, imports, and a confirmation email that
 * waits out an SES outage and goes out once.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false, scheduleIntervalMs: 1000 });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
});

afterAll(async () => {
  await runtime?.stop();
});

type Subscriber = {
  status: string;
  consent?: {
    source: string;
    ip?: string;
    userAgent?: string;
    by?: string;
    importId?: string;
    confirmation?: { version: number; subject: string; text: string };
    requested?: { source: string };
  };
};

const subscriber = (listId: string, email: string) =>
  api.expect<Subscriber>(200, "GET", `/v1/lists/${listId}/subscribers/${encodeURIComponent(email)}`);

async function mails(): Promise<StoredEmail[]> {
  return (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl)))).flat();
}

/** The confirmation emails `email` got with `subject`, once at least `count` of them arrived. */
async function confirmationsTo(email: string, subject: string, count = 1): Promise<StoredEmail[]> {
  const pick = (all: StoredEmail[]) =>
    all.filter((m) => m.subject === subject && m.destination.to.includes(email));
  return pick(await until(mails, (all) => pick(all).length >= count));
}

/** The MIME source of a message SES accepted, from the emulator of the region that sent it. */
async function rawMessage(sesMessageId: string): Promise<string> {
  for (const region of runtime.regions) {
    const emulatorId = region.proxies.ses.sesMessageIds.get(sesMessageId);
    const raw = emulatorId && (await sesRawMessage(region.sesUrl, emulatorId));
    if (raw) return raw;
  }
  throw new Error(`no stored message for ${sesMessageId}`);
}

const linkIn = (mail: StoredEmail | undefined) =>
  /href="([^"]+\/c\/[A-Za-z0-9_-]+)"/.exec(mail?.body.html ?? "")?.[1] ?? "";

const confirmPost = (url: string, body = "confirm=yes") =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "ConsentTest/1.0" },
    body,
  });

async function doubleList(name: string, subject: string): Promise<string> {
  const list = await api.expect<{ id: string; optIn: string; confirmation: { version: number } }>(
    201,
    "POST",
    "/v1/lists",
    {
      name,
      optIn: "double",
      confirmation: {
        subject,
        html: '<p>Hi {{attributes.name | "there"}}, please <a href="{{confirmUrl}}">confirm</a>.</p>',
        text: 'Hi {{attributes.name | "there"}}, please confirm: {{confirmUrl}}',
      },
    },
  );
  expect(list).toMatchObject({ optIn: "double", confirmation: { version: 1 } });
  return list.id;
}

describe("double opt-in", () => {
  it("takes a subscriber from PUT to confirmed by the mailed link, with proof of consent", async () => {
    const listId = await doubleList("Double", "Confirm your Double subscription");
    const email = "dora@example.com";
    const put = await api.expect<{ confirmationsRequested: number; confirmationCampaigns: string[] }>(
      200,
      "PUT",
      `/v1/lists/${listId}/subscribers`,
      {
        subscribers: [{ email, attributes: { name: "Dora" } }],
      },
    );
    expect(put.confirmationsRequested).toBe(1);
    expect(await subscriber(listId, email)).toMatchObject({ status: "pending", consent: { source: "api" } });

    // The confirmation is a campaign of its own: recorded once in the ledger, like any send.
    const confirmationId = put.confirmationCampaigns[0] as string;
    await waitForCampaign(api, confirmationId, 60_000);
    const recorded = await api.expect<{ items: { email: string; status: string; sesMessageId: string }[] }>(
      200,
      "GET",
      `/v1/campaigns/${confirmationId}/recipients`,
    );
    expect(recorded.items.map((r) => [r.email, r.status])).toEqual([[email, "sent"]]);
    // The message as SES got it, parsed from its MIME source.
    const mime = await rawMessage(recorded.items[0]?.sesMessageId ?? "");
    const parsed = await simpleParser(mime);
    expect(parsed.subject).toBe("Confirm your Double subscription");
    expect(parsed.html || "").toContain("Hi Dora");
    expect(parsed.text ?? "").toMatch(/please confirm: http\S+\/c\//);
    // No unsubscribe link or List-Unsubscribe header on a confirmation email.
    expect(parsed.headers.has("list-unsubscribe")).toBe(false);
    expect(parsed.html || "").not.toContain("/u/");
    const url = /href="([^"]+\/c\/[A-Za-z0-9_-]+)"/.exec(parsed.html || "")?.[1] ?? "";
    expect(url.startsWith(runtime.info.sharedApiUrl)).toBe(true);
    expect(parsed.text ?? "").toContain(url);

    // A campaign sent now does not reach the pending subscriber.
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [{ email: "other@example.com" }],
    });
    const other = await confirmationsTo("other@example.com", "Confirm your Double subscription");
    await confirmPost(linkIn(other[0]));
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Only the confirmed",
      html: "<p>News</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    await waitForCampaign(api, campaign.id, 60_000);
    const news = (await mails())
      .filter((m) => m.subject === "Only the confirmed")
      .flatMap((m) => m.destination.to);
    expect(news).toEqual(["other@example.com"]);

    // GET shows a page and confirms nothing; POST confirms.
    const shown = await fetch(url);
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain('name="confirm" value="yes"');
    expect((await subscriber(listId, email)).status).toBe("pending");
    const confirmed = await confirmPost(url);
    expect(confirmed.status).toBe(200);
    const after = await subscriber(listId, email);
    expect(after).toMatchObject({
      status: "subscribed",
      consent: {
        source: "double-opt-in",
        userAgent: "ConsentTest/1.0",
        confirmation: { version: 1, subject: "Confirm your Double subscription" },
        requested: { source: "api" },
      },
    });
    expect(after.consent?.ip).toMatch(/\S/);
    expect(after.consent?.confirmation?.text).toContain("please confirm: {{confirmUrl}}");
    // Repeating it is harmless.
    expect((await confirmPost(url)).status).toBe(200);
    expect((await subscriber(listId, email)).consent?.userAgent).toBe("ConsentTest/1.0");
  });

  it("refuses expired, forged and malformed confirmations with 400, changing nothing", async () => {
    const listId = await doubleList("Expiry", "Confirm your Expiry subscription");
    const email = "eve@example.com";
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, { subscribers: [{ email }] });
    const url = linkIn((await confirmationsTo(email, "Confirm your Expiry subscription"))[0]);

    const secrets = new SecretsManagerClient({
      region: "us-east-1",
      endpoint: runtime.endpoints.secretsManager,
      credentials: LOCAL_CREDENTIALS,
    });
    const secret = (
      await secrets.send(new GetSecretValueCommand({ SecretId: unsubscribeKeySecretName("steadfast") }))
    ).SecretString as string;
    const expired = signConfirmationToken(secret, {
      listId,
      email,
      expiresAt: Math.floor(Date.now() / 1000) - 60,
      version: 1,
    });
    const base = url.slice(0, url.lastIndexOf("/c/"));
    const refusals: [string, string, string][] = [
      [`${base}/c/${expired}`, "confirm=yes", "link_expired"],
      [`${url.slice(0, -2)}${url.endsWith("AA") ? "BB" : "AA"}`, "confirm=yes", "invalid_token"],
      [url, "confirm=no", "validation_failed"],
      [url, "confirm=yes&admin=1", "validation_failed"],
    ];
    for (const [target, body, code] of refusals) {
      const refused = await confirmPost(target, body);
      expect(refused.status, `${body} ${code}`).toBe(400);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect((await fetch(`${base}/c/${expired}`)).status).toBe(400);
    expect((await subscriber(listId, email)).status).toBe("pending");
  });

  it("re-sends a confirmation at most once per 10 minutes, and sends them for an import", async () => {
    const listId = await doubleList("Resend", "Confirm your Resend subscription");
    const email = "rex@example.com";
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, { subscribers: [{ email }] });
    await confirmationsTo(email, "Confirm your Resend subscription");
    // The first email was asked a moment ago: too soon for another.
    const again = await api.request("POST", `/v1/lists/${listId}/subscribers/${email}/confirmation`);
    expect(again.status).toBe(429);
    expect(again.headers.get("retry-after")).toBe("600");
    // Re-PUTting a pending subscriber mails nothing more.
    const rePut = await api.expect<{ confirmationsRequested: number }>(
      200,
      "PUT",
      `/v1/lists/${listId}/subscribers`,
      {
        subscribers: [{ email }],
      },
    );
    expect(rePut.confirmationsRequested).toBe(0);

    const csv = "email,name\nimp1@example.com,Ima\nimp2@example.com,Ivo\n";
    const job = await api.request<{ id: string }>("POST", `/v1/lists/${listId}/imports`, csv, {
      "content-type": "text/csv",
    });
    expect(job.status).toBe(202);
    await until(
      () => api.expect<{ status: string }>(200, "GET", `/v1/imports/${job.body.id}`),
      (j) => j.status === "completed",
    );
    for (const imported of ["imp1@example.com", "imp2@example.com"]) {
      expect(await subscriber(listId, imported)).toMatchObject({
        status: "pending",
        consent: { source: "import", importId: job.body.id },
      });
      await confirmationsTo(imported, "Confirm your Resend subscription");
    }
    const all = (await mails()).filter((m) => m.subject === "Confirm your Resend subscription");
    expect(all.map((m) => m.destination.to[0]).sort()).toEqual([
      "imp1@example.com",
      "imp2@example.com",
      email,
    ]);
  });

  it("keeps a confirmation email queued through an SES outage in every region, then sends it once", async () => {
    const listId = await doubleList("Outage", "Confirm your Outage subscription");
    const email = "olga@example.com";
    await controlFaults(runtime.info.controlUrl, "POST", { target: "ses", mode: "down" });
    try {
      await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, { subscribers: [{ email }] });
      await new Promise((r) => setTimeout(r, 8_000));
      expect((await mails()).filter((m) => m.destination.to.includes(email))).toEqual([]);
    } finally {
      await controlFaults(runtime.info.controlUrl, "DELETE");
    }
    const got = await confirmationsTo(email, "Confirm your Outage subscription");
    // Any duplicate would have arrived by the time the confirmation campaign is done.
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await mails()).filter((m) => m.destination.to.includes(email))).toHaveLength(1);
    expect(got).toHaveLength(1);
  });
});
