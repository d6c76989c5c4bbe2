import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cachedSecret } from "../../lambdas/adapters/cached-secret.ts";

afterEach(() => {
  vi.useRealTimers();
});

function fakeClient(values: string[]) {
  const send = vi.fn(() => Promise.resolve({ SecretString: values.shift() }));
  return { client: { send } as unknown as SecretsManagerClient, send };
}

describe("cachedSecret", () => {
  it("reads once without a maximum age", async () => {
    vi.useFakeTimers({ now: 0 });
    const { client, send } = fakeClient(["a", "b"]);
    const read = cachedSecret("id", (s) => s, client);
    expect(await read()).toBe("a");
    vi.setSystemTime(24 * 3600_000);
    expect(await read()).toBe("a");
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("reads again once the value is maxAgeMs old, so a changed secret takes effect", async () => {
    vi.useFakeTimers({ now: 0 });
    const { client, send } = fakeClient(["old", "new"]);
    const read = cachedSecret("id", (s) => s, client, 60_000);
    expect(await read()).toBe("old");
    vi.setSystemTime(59_999);
    expect(await read()).toBe("old");
    vi.setSystemTime(60_000);
    expect(await read()).toBe("new");
    expect(send).toHaveBeenCalledTimes(2);
  });
});
