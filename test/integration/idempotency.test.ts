import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SteadfastClient } from "../../local/client.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * Idempotency-Key on every POST: within a region, and across regions through the coordination
 * table (the default local runtime has one, as a default deployment does).
 */
let runtime: LocalRuntime;
let api: SteadfastClient;
let west: SteadfastClient;

type ErrorBody = { error: { code: string; message: string } };

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false, scheduleIntervalMs: 1000 });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
  west = new SteadfastClient(runtime.info.regions[1]?.apiUrl ?? "", runtime.info.apiKey);
});

afterAll(async () => {
  await runtime?.stop();
});

describe("idempotent writes", () => {
  it("replays the first response for the same key and body, and refuses another body with 409", async () => {
    const key = `key-${Date.now()}`;
    const first = await api.request<{ id: string }>(
      "POST",
      "/v1/lists",
      { name: "Once" },
      { "idempotency-key": key },
    );
    const second = await api.request<{ id: string }>(
      "POST",
      "/v1/lists",
      { name: "Once" },
      { "idempotency-key": key },
    );
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    const other = await api.request<ErrorBody>(
      "POST",
      "/v1/lists",
      { name: "Twice" },
      { "idempotency-key": key },
    );
    expect([other.status, other.body.error.code]).toEqual([409, "idempotency_key_reused"]);
    const badKey = await api.request<ErrorBody>(
      "POST",
      "/v1/lists",
      { name: "x" },
      { "idempotency-key": "é" },
    );
    expect(badKey.status).toBe(400);
    // A refused request keeps no record: the corrected retry under the same key works.
    const retryKey = `retry-${Date.now()}`;
    expect(
      (await api.request("POST", "/v1/lists", { nom: "x" }, { "idempotency-key": retryKey })).status,
    ).toBe(400);
    expect(
      (await api.request("POST", "/v1/lists", { name: "x" }, { "idempotency-key": retryKey })).status,
    ).toBe(201);
  });
});

describe("idempotent writes across regions", () => {
  it("runs a request retried through the other region once: 409 until the first answer has replicated, then that answer", async () => {
    const key = `regions-${Date.now()}`;
    const name = `Across ${key}`;
    const first = await api.request<{ id: string }>(
      "POST",
      "/v1/lists",
      { name },
      { "idempotency-key": key },
    );
    expect(first.status).toBe(201);
    // At once, well inside the replication lag: the other region knows the key is taken.
    const early = await west.request<ErrorBody & { id?: string }>(
      "POST",
      "/v1/lists",
      { name },
      { "idempotency-key": key },
    );
    if (early.status === 409) expect(early.body.error.message).toMatch(/us-east-1/);
    else expect([early.status, early.body.id]).toEqual([201, first.body.id]);
    const other = await west.request<ErrorBody>(
      "POST",
      "/v1/lists",
      { name: "Else" },
      { "idempotency-key": key },
    );
    expect([other.status, other.body.error.code]).toEqual([409, "idempotency_key_reused"]);
    const deadline = Date.now() + 10_000;
    let replay = early;
    while (replay.status !== 201 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      replay = await west.request("POST", "/v1/lists", { name }, { "idempotency-key": key });
    }
    expect([replay.status, replay.body.id, replay.headers.get("idempotent-replayed")]).toEqual([
      201,
      first.body.id,
      "true",
    ]);
    // One list, in both regions.
    for (const client of [api, west]) {
      const lists = await client.expect<{ items: { name: string }[] }>(200, "GET", "/v1/lists?limit=100");
      expect(lists.items.filter((l) => l.name === name)).toHaveLength(1);
    }
  });

  it("frees a key whose request was refused in every region at once", async () => {
    const key = `refused-${Date.now()}`;
    expect((await api.request("POST", "/v1/lists", { nom: "x" }, { "idempotency-key": key })).status).toBe(
      400,
    );
    const retried = await west.request<{ id: string }>(
      "POST",
      "/v1/lists",
      { name: "Fixed" },
      { "idempotency-key": key },
    );
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });
});
