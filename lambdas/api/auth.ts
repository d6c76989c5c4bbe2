import type { ApiKeyStore } from "../adapters/api-key-store.ts";
import { hashApiKey, hashesEqual } from "../domain/api-key.ts";
import type { HttpEvent } from "./http.ts";
import { header } from "./http.ts";
import { ForbiddenError, UnauthorizedError } from "./http-errors.ts";
import type { Scope } from "./router.ts";

export interface Principal {
  readonly keyId: string;
  readonly scopes: readonly string[];
}

/**
 * Bearer API keys. The first admin key lives in Secrets Manager (created by the data stack, shown
 * to the operator once with `aws secretsmanager get-secret-value`); other keys live hashed in the
 * audience table. Only hashes are compared, in constant time.
 */
export class Authenticator {
  constructor(
    private readonly apiKeys: ApiKeyStore,
    /** The hash of the admin key (undefined when the secret is empty), read once per container. */
    private readonly adminKeyHash: () => Promise<string | undefined>,
  ) {}

  async authenticate(event: HttpEvent, scope: Scope): Promise<Principal> {
    const auth = header(event, "authorization") ?? "";
    const match = /^Bearer\s+([A-Za-z0-9_\-.~+/=]{16,200})$/.exec(auth.trim());
    if (!match?.[1]) throw new UnauthorizedError();
    const hash = hashApiKey(match[1]);
    const principal = await this.lookup(hash);
    if (!principal) throw new UnauthorizedError();
    if (!principal.scopes.includes("admin") && !allows(principal.scopes, scope)) {
      throw new ForbiddenError(`this API key lacks the ${scope} scope`);
    }
    return principal;
  }

  private async lookup(hash: string): Promise<Principal | undefined> {
    const admin = await this.adminKeyHash();
    if (admin && hashesEqual(admin, hash)) return { keyId: "admin", scopes: ["admin"] };
    const record = await this.apiKeys.get(hash);
    return record ? { keyId: record.id, scopes: record.scopes } : undefined;
  }
}

/** write implies read. */
function allows(scopes: readonly string[], wanted: Scope): boolean {
  if (scopes.includes(wanted)) return true;
  return wanted === "read" && scopes.includes("write");
}
