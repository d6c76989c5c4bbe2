import { randomUUID } from "node:crypto";
import type { z } from "zod";
import type {
  createListSchema,
  listPageSchema,
  listSchema,
  subscriberPageSchema,
  subscriberViewSchema,
  upsertResultSchema,
} from "../lambdas/api/audience-schemas.ts";
import type { QueueReport } from "../lambdas/adapters/queue-admin.ts";
import type { redriveSchema } from "../lambdas/api/routes/admin.ts";
import type {
  createWebhookSchema,
  deliveryPageSchema,
  patchWebhookSchema,
  replayAcceptedSchema,
  replaySchema,
  webhookPageSchema,
  webhookViewSchema,
} from "../lambdas/api/webhook-schemas.ts";
import type { linksSchema, timelineSchema } from "../lambdas/api/routes/campaign-reports.ts";
import type { testSendResultSchema, testSendSchema } from "../lambdas/api/routes/campaign-test.ts";
import type {
  campaignPageSchema,
  campaignViewSchema,
  createCampaignSchema,
  followUpSchema,
  importJobSchema,
  patchCampaignSchema,
  recipientPageSchema,
  sendResultSchema,
  upsertSubscribersSchema,
} from "../lambdas/api/schemas.ts";
import type {
  createTemplateSchema,
  templatePageSchema,
  templateVersionBodySchema,
  templateVersionSchema,
  templateWithContentSchema,
} from "../lambdas/api/template-schemas.ts";

/**
 * A typed client of the Steadfast HTTP API. Its request and answer types are the API's own schemas
 * (lambdas/api/*schemas.ts, the same ones the OpenAPI document is made from), imported as types
 * only: the client itself needs nothing but `fetch`.
 *
 * Every POST carries an `Idempotency-Key` (a fresh one per call unless given), so a call retried
 * after a lost answer (`429` and `503` are retried here, after their `Retry-After`) runs once.
 */
export type Campaign = z.output<typeof campaignViewSchema>;
export type CampaignInput = z.input<typeof createCampaignSchema>;
export type FollowUpInput = z.input<typeof followUpSchema>;
export type MailingList = z.output<typeof listSchema>;
export type Subscriber = z.output<typeof subscriberViewSchema>;
export type Template = z.output<typeof templateWithContentSchema>;
export type TemplateVersion = z.output<typeof templateVersionSchema>;
export type ImportJob = z.output<typeof importJobSchema>;
export type Webhook = z.output<typeof webhookViewSchema>;
export type { QueueReport };

/** An error the API answered: its status and `{ error: { code, message, details? } }`. */
export class SteadfastApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly { path: string; message: string }[] = [],
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "SteadfastApiError";
  }
}

export interface SteadfastApiOptions {
  /** The API's base URL, without `/v1`. */
  readonly url: string;
  readonly apiKey: string;
  /** How many times a `429` or `503` is retried (default 3). */
  readonly retries?: number;
  readonly fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

export class SteadfastApi {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SteadfastApiOptions) {
    this.base = options.url.replace(/\/+$/, "");
    this.fetch = options.fetch ?? fetch;
  }

  /** Any route: the parsed JSON answer of a 2xx, or a SteadfastApiError. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { query?: Query; idempotencyKey?: string; contentType?: string } = {},
  ): Promise<T> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options.query ?? {}))
      if (value !== undefined) query.set(name, String(value));
    const url = `${this.base}${path}${query.size > 0 ? `?${query.toString()}` : ""}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}` };
    if (method === "POST") headers["idempotency-key"] = options.idempotencyKey ?? randomUUID();
    let payload: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = options.contentType ?? "application/json";
      payload = typeof body === "string" && options.contentType ? body : JSON.stringify(body);
    }
    for (let attempt = 0; ; attempt++) {
      const response = await this.fetch(url, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
      });
      const text = await response.text();
      const parsed = text ? (JSON.parse(text) as unknown) : undefined;
      if (response.ok) return parsed as T;
      const retryable = response.status === 429 || response.status === 503;
      if (retryable && attempt < (this.options.retries ?? 3)) {
        const after = Number(response.headers.get("retry-after") ?? "1");
        await new Promise((r) => setTimeout(r, Math.min(Number.isFinite(after) ? after : 1, 30) * 1000));
        continue;
      }
      const error = (parsed as { error?: { code?: string; message?: string; details?: [] } } | undefined)
        ?.error;
      throw new SteadfastApiError(
        response.status,
        error?.code ?? "error",
        error?.message ?? response.statusText,
        error?.details ?? [],
      );
    }
  }

  // --- Lists and subscribers --------------------------------------------------------------------
  readonly lists = {
    create: (input: z.input<typeof createListSchema>) =>
      this.request<MailingList>("POST", "/v1/lists", input),
    page: (query: { limit?: number; cursor?: string } = {}) =>
      this.request<z.output<typeof listPageSchema>>("GET", "/v1/lists", undefined, { query }),
    get: (id: string) => this.request<MailingList>("GET", `/v1/lists/${enc(id)}`),
  };

  readonly subscribers = {
    upsert: (listId: string, subscribers: z.input<typeof upsertSubscribersSchema>["subscribers"]) =>
      this.request<z.output<typeof upsertResultSchema>>("PUT", `/v1/lists/${enc(listId)}/subscribers`, {
        subscribers,
      }),
    page: (listId: string, query: { limit?: number; cursor?: string; status?: string } = {}) =>
      this.request<z.output<typeof subscriberPageSchema>>(
        "GET",
        `/v1/lists/${enc(listId)}/subscribers`,
        undefined,
        { query },
      ),
    get: (listId: string, email: string) =>
      this.request<Subscriber>("GET", `/v1/lists/${enc(listId)}/subscribers/${enc(email)}`),
  };

  readonly imports = {
    /** Posts a CSV file (header row with an `email` column). */
    create: (listId: string, csv: string) =>
      this.request<Pick<ImportJob, "id" | "listId" | "status" | "rows">>(
        "POST",
        `/v1/lists/${enc(listId)}/imports`,
        csv,
        { contentType: "text/csv" },
      ),
    get: (id: string) => this.request<ImportJob>("GET", `/v1/imports/${enc(id)}`),
  };

  // --- Templates --------------------------------------------------------------------------------
  readonly templates = {
    create: (input: z.input<typeof createTemplateSchema>) =>
      this.request<Template>("POST", "/v1/templates", input),
    page: (query: { limit?: number; cursor?: string } = {}) =>
      this.request<z.output<typeof templatePageSchema>>("GET", "/v1/templates", undefined, { query }),
    get: (id: string) => this.request<Template>("GET", `/v1/templates/${enc(id)}`),
    addVersion: (id: string, input: z.input<typeof templateVersionBodySchema>) =>
      this.request<TemplateVersion>("POST", `/v1/templates/${enc(id)}/versions`, input),
    version: (id: string, version: number) =>
      this.request<TemplateVersion>("GET", `/v1/templates/${enc(id)}/versions/${version}`),
  };

  // --- Campaigns --------------------------------------------------------------------------------
  readonly campaigns = {
    create: (input: CampaignInput) => this.request<Campaign>("POST", "/v1/campaigns", input),
    page: (query: { limit?: number; cursor?: string; status?: string } = {}) =>
      this.request<z.output<typeof campaignPageSchema>>("GET", "/v1/campaigns", undefined, { query }),
    get: (id: string) => this.request<Campaign>("GET", `/v1/campaigns/${enc(id)}`),
    update: (id: string, changes: z.input<typeof patchCampaignSchema>) =>
      this.request<Campaign>("PATCH", `/v1/campaigns/${enc(id)}`, changes),
    send: (id: string) =>
      this.request<z.output<typeof sendResultSchema>>("POST", `/v1/campaigns/${enc(id)}/send`),
    pause: (id: string, reason?: string) =>
      this.request<Campaign>("POST", `/v1/campaigns/${enc(id)}/pause`, reason ? { reason } : undefined),
    resume: (id: string) => this.request<Campaign>("POST", `/v1/campaigns/${enc(id)}/resume`),
    cancel: (id: string) => this.request<Campaign>("POST", `/v1/campaigns/${enc(id)}/cancel`),
    followUp: (id: string, input: FollowUpInput) =>
      this.request<Campaign>("POST", `/v1/campaigns/${enc(id)}/follow-up`, input),
    test: (id: string, emails: z.input<typeof testSendSchema>["emails"]) =>
      this.request<z.output<typeof testSendResultSchema>>("POST", `/v1/campaigns/${enc(id)}/test`, {
        emails,
      }),
    recipients: (id: string, query: { limit?: number; cursor?: string; status?: string } = {}) =>
      this.request<z.output<typeof recipientPageSchema>>(
        "GET",
        `/v1/campaigns/${enc(id)}/recipients`,
        undefined,
        {
          query,
        },
      ),
    links: (id: string) =>
      this.request<z.output<typeof linksSchema>>("GET", `/v1/campaigns/${enc(id)}/links`),
    timeline: (id: string) =>
      this.request<z.output<typeof timelineSchema>>("GET", `/v1/campaigns/${enc(id)}/timeline`),
  };

  // --- Webhooks (admin keys) --------------------------------------------------------------------
  readonly webhooks = {
    create: (input: z.input<typeof createWebhookSchema>) =>
      this.request<Webhook>("POST", "/v1/webhooks", input),
    page: (query: { limit?: number; cursor?: string } = {}) =>
      this.request<z.output<typeof webhookPageSchema>>("GET", "/v1/webhooks", undefined, { query }),
    get: (id: string) => this.request<Webhook>("GET", `/v1/webhooks/${enc(id)}`),
    update: (id: string, changes: z.input<typeof patchWebhookSchema>) =>
      this.request<Webhook>("PATCH", `/v1/webhooks/${enc(id)}`, changes),
    delete: (id: string) => this.request<undefined>("DELETE", `/v1/webhooks/${enc(id)}`),
    deliveries: (id: string, query: { limit?: number; cursor?: string } = {}) =>
      this.request<z.output<typeof deliveryPageSchema>>(
        "GET",
        `/v1/webhooks/${enc(id)}/deliveries`,
        undefined,
        { query },
      ),
    replay: (id: string, input: z.input<typeof replaySchema>) =>
      this.request<z.output<typeof replayAcceptedSchema>>("POST", `/v1/webhooks/${enc(id)}/replay`, input),
  };

  // --- Operations (admin keys) ------------------------------------------------------------------
  readonly admin = {
    queues: () => this.request<{ queues: QueueReport[] }>("GET", "/v1/admin/queues"),
    redrive: (input: z.input<typeof redriveSchema> = {}) =>
      this.request<{ redrives: unknown[] }>("POST", "/v1/admin/dlq/redrive", input),
  };
}

const enc = encodeURIComponent;
