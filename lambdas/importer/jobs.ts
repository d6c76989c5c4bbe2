import type { Attributes } from "../domain/render.ts";

/** Messages on the import queue. */
export type AudienceJob =
  | {
      readonly kind: "import-chunk";
      readonly jobId: string;
      readonly listId: string;
      /** Chunk number, 0-based; each is recorded once on the job. */
      readonly chunk: number;
      /** CSV rows this chunk accounts for (duplicates of later rows included). */
      readonly rows: number;
      readonly subscribers: readonly { email: string; attributes: Attributes }[];
    }
  | { readonly kind: "erase-list"; readonly listId: string };

export function parseAudienceJob(value: unknown): AudienceJob | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const job = value as Record<string, unknown>;
  if (job.kind === "erase-list" && typeof job.listId === "string")
    return { kind: "erase-list", listId: job.listId };
  if (
    job.kind === "import-chunk" &&
    typeof job.jobId === "string" &&
    typeof job.listId === "string" &&
    Number.isInteger(job.chunk) &&
    Number.isInteger(job.rows) &&
    Array.isArray(job.subscribers)
  )
    return job as unknown as AudienceJob;
  return undefined;
}
