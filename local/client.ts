/**
 * A small client for Steadfast's HTTP API, used by the demo, the benchmarks and the tests.
 */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export class SteadfastClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  /** Like `request`, but throws unless the status is the expected one. */
  async expect<T = Record<string, unknown>>(
    status: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const response = await this.request<T>(method, path, body);
    if (response.status !== status) {
      throw new Error(
        `${method} ${path}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`,
      );
    }
    return response.body;
  }
}

export interface StoredEmail {
  readonly messageId: string;
  readonly from: string;
  readonly destination: { to: string[] };
  readonly subject: string;
  readonly body: { html?: string; text?: string };
  readonly headers?: { name: string; value: string }[];
}

/**
 * Reads `read` every 250 ms until `done` holds or `timeoutMs` passes, and returns the last value
 * read (the caller asserts on it, so a timeout fails with what was seen).
 */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The MIME source of a message an SES emulator accepted (`GET /get-emlContent`), by the id the
 * emulator gave it; undefined when it has none.
 */
export async function sesRawMessage(sesUrl: string, emulatorId: string): Promise<string | undefined> {
  const response = await fetch(`${sesUrl}/get-emlContent?messageId=${encodeURIComponent(emulatorId)}`);
  if (!response.ok) return undefined;
  const body = (await response.json()) as { body: string | { data: number[] } };
  return typeof body.body === "string" ? body.body : Buffer.from(body.body.data).toString("utf8");
}

/** What an SES emulator accepted (`GET /store`). */
export async function sesStore(sesUrl: string): Promise<StoredEmail[]> {
  const response = await fetch(`${sesUrl}/store`);
  const body = (await response.json()) as { emails: StoredEmail[] };
  return body.emails;
}

export interface CampaignView {
  readonly id: string;
  readonly status: string;
  readonly counts: Record<string, number>;
}

/** Polls a campaign until it reaches `sent` (or `timeoutMs` passes), reporting progress. */
export async function waitForCampaign(
  client: SteadfastClient,
  id: string,
  timeoutMs: number,
  onProgress?: (campaign: CampaignView) => void,
): Promise<CampaignView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const campaign = await client.expect<CampaignView>(200, "GET", `/v1/campaigns/${id}`);
    onProgress?.(campaign);
    if (campaign.status === "sent") return campaign;
    if (Date.now() > deadline) {
      throw new Error(`campaign ${id} not sent after ${timeoutMs} ms: ${JSON.stringify(campaign.counts)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Sets (`POST`, with the fault) or heals (`DELETE`) faults on the runtime's control API; throws
 * unless it answers 204.
 */
export async function controlFaults(
  controlUrl: string,
  method: "POST" | "DELETE",
  body?: unknown,
): Promise<void> {
  const response = await fetch(`${controlUrl}/faults`, {
    method,
    ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
  });
  if (response.status !== 204)
    throw new Error(`faults ${method}: ${response.status} ${await response.text()}`);
}
