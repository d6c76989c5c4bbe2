import type { ApiKeyStore } from "../adapters/api-key-store.ts";
import { hashApiKey, hashesEqual } from "../domain/api-key.ts";
import type { HttpEvent } from "./http.ts";
import { header } from "./http.ts";
import { ForbiddenError, UnauthorizedError } from "./http-errors.ts";
import type { Scope } from "./router.ts";

/** The id of the bootstrap admin key (the Secrets Manager one) in the API and as idempotency scope. */
export const ADMIN_KEY_ID = "admin";

/** How long a container keeps the admin key's hash before reading the secret again. */
export const ADMIN_KEY_CACHE_MS = 60_000;

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
    /** The hash of the admin key (undefined when the secret is empty), read at most a minute ago. */
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
    // One strongly consistent read serves both kinds of key: a stored key's record, or the
    // revocation recorded under the admin key's hash (DELETE /v1/api-keys/admin).
    const [admin, found] = await Promise.all([this.adminKeyHash(), this.apiKeys.get(hash)]);
    if (found.kind === "revoked") return undefined;
    if (admin && hashesEqual(admin, hash)) return { keyId: ADMIN_KEY_ID, scopes: ["admin"] };
    return found.kind === "active" ? { keyId: found.record.id, scopes: found.record.scopes } : undefined;
  }
}

/** write implies read. */
function allows(scopes: readonly string[], wanted: Scope): boolean {
  if (scopes.includes(wanted)) return true;
  return wanted === "read" && scopes.includes("write");
}
