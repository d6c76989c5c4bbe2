import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { traced } from "./clients.ts";

let sharedClient: SecretsManagerClient | undefined;

/**
 * A Secrets Manager secret read once per container, on first use, and kept for the container's
 * life (Lambda recycles containers, so a rotated secret is picked up within hours), or for
 * `maxAgeMs` when given. Concurrent
 * first uses share one read. A failed read, or a value `parse` refuses, is not cached: the next use
 * tries again rather than the container failing until it is recycled.
 *
 * `parse` turns the raw `SecretString` (undefined for an empty or binary secret) into what callers
 * need, so derived values (a hash of a key, say) are computed once too.
 */
export function cachedSecret<T>(
  secretId: string,
  parse: (secretString: string | undefined) => T,
  client?: SecretsManagerClient,
  /** Read the secret again after this long (a credential whose change must take effect soon). */
  maxAgeMs = Infinity,
): () => Promise<T> {
  let value: Promise<T> | undefined;
  let readAt = 0;
  return () => {
    if (value && Date.now() - readAt >= maxAgeMs) value = undefined;
    if (!value) readAt = Date.now();
    return (value ??= (client ?? (sharedClient ??= traced(new SecretsManagerClient({}))))
      .send(new GetSecretValueCommand({ SecretId: secretId }))
      .then((out) => parse(out.SecretString))
      .catch((error: unknown) => {
        // Try again on the next use rather than caching a transient failure.
        value = undefined;
        throw error;
      }));
  };
}

/** A `parse` for secrets that must hold a value: an empty one is a deployment fault. */
export function nonEmpty(what: string): (secretString: string | undefined) => string {
  return (secretString) => {
    if (!secretString) throw new Error(`the ${what} secret is empty`);
    return secretString;
  };
}
