import { gunzipSync } from "node:zlib";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SteadfastClient } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/** API keys: what is stored of them, and revoking the bootstrap admin key. */
let runtime: LocalRuntime;
let api: SteadfastClient;
let db: DynamoDBDocumentClient;

type ErrorBody = { error: { code: string; message: string } };

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
  db = localDocumentClient(runtime);
});

afterAll(async () => {
  await runtime?.stop();
});

/** Every item of the audience table as text, gzipped binary attributes (stored responses) unpacked. */
async function audienceTableText(): Promise<string> {
  const parts: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new ScanCommand({ TableName: "steadfast-audience", ExclusiveStartKey: start }));
    for (const item of out.Items ?? []) {
      parts.push(
        JSON.stringify(item, (_key, value: unknown) => {
          if (!(value instanceof Uint8Array)) return value;
          try {
            return gunzipSync(value).toString("utf8");
          } catch {
            return Buffer.from(value).toString("utf8");
          }
        }),
      );
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return parts.join("\n");
}

describe("idempotent key creation", () => {
  it("never stores the secret; a replay answers the metadata without it", async () => {
    const headers = { "idempotency-key": `key-create-${Date.now()}` };
    const body = { name: "ci", scopes: ["read"] };
    const first = await api.request<{ id: string; key?: string }>("POST", "/v1/api-keys", body, headers);
    expect(first.status).toBe(201);
    const secret = first.body.key ?? "";
    expect(secret).toMatch(/^sf_/);

    const stored = await audienceTableText();
    expect(stored).toContain(first.body.id); // the scan does see the key's items
    expect(stored).not.toContain(secret);

    const replay = await api.request<Record<string, unknown>>("POST", "/v1/api-keys", body, headers);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("idempotent-replay")).toBe("secret-withheld");
    expect(Object.keys(replay.body).sort()).toEqual(["createdAt", "id", "name", "scopes"]);
    expect(replay.body).toMatchObject({ id: first.body.id, name: "ci", scopes: ["read"] });
    expect(JSON.stringify(replay.body)).not.toContain(secret);
    // The key itself works: only the replay withholds it.
    expect((await new SteadfastClient(runtime.info.apiUrl, secret).request("GET", "/v1/lists")).status).toBe(
      200,
    );
  });
});

// Last in this file: it revokes the runtime's bootstrap admin key.
describe("revoking the bootstrap admin key", () => {
  it("is done with another admin key; the old admin key is refused at once", async () => {
    const other = await api.expect<{ key: string }>(201, "POST", "/v1/api-keys", {
      name: "second admin",
      scopes: ["admin"],
    });
    const second = new SteadfastClient(runtime.info.apiUrl, other.key);
    expect((await api.request("GET", "/v1/lists")).status).toBe(200);

    expect((await second.request("DELETE", "/v1/api-keys/admin")).status).toBe(204);
    const refused = await api.request<ErrorBody>("GET", "/v1/lists");
    expect([refused.status, refused.body.error.code]).toEqual([401, "unauthorized"]);
    // Repeating finds nothing to revoke; the other admin key carries on.
    expect((await second.request("DELETE", "/v1/api-keys/admin")).status).toBe(404);
    expect((await second.request("GET", "/v1/api-keys")).status).toBe(200);
  });
});
