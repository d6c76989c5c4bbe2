import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { updateIf } from "./dynamo/conditional.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { importKey } from "./dynamo/keys.ts";

type ImportStatus = "running" | "completed" | "failed";

export interface ImportRowError {
  readonly row: number;
  readonly error: string;
}

export interface ImportJob {
  readonly id: string;
  readonly listId: string;
  readonly status: ImportStatus;
  /** Data rows in the file (the header row excluded). */
  readonly rows: number;
  readonly processed: number;
  readonly imported: number;
  readonly errors: readonly ImportRowError[];
  /** Row errors beyond the ones listed. */
  readonly moreErrors?: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
}

/** Import jobs are kept for 30 days, then expire by TTL. */
const JOB_TTL_SECONDS = 30 * 86_400;

/**
 * CSV import jobs in the audience table (`IMPORT#<id>`). The API writes the job with the rows it
 * rejected up front; the audience-jobs function records each chunk once (a set of done chunk numbers makes a
 * redelivered chunk count once) and completes the job with the last one.
 */
export class ImportStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(job: ImportJob & { chunks: number }): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...importKey(job.id),
          type: "import",
          ...job,
          expiresAt: Math.floor(Date.parse(job.createdAt) / 1000) + JOB_TTL_SECONDS,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async get(id: string): Promise<ImportJob | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: importKey(id),
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    const {
      pk: _pk,
      sk: _sk,
      type: _type,
      expiresAt: _exp,
      chunks: _chunks,
      doneChunks: _done,
      ...job
    } = out.Item;
    return job as ImportJob;
  }

  /**
   * Records one finished chunk: `rows` more processed, `imported` of them stored. Idempotent per
   * chunk number. Completes the job when every chunk is done, and then answers the job as it ended.
   */
  async recordChunk(
    id: string,
    chunk: number,
    rows: number,
    imported: number,
    now: string,
  ): Promise<{ listId: string; processed: number; imported: number } | undefined> {
    let out;
    try {
      out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: importKey(id),
          UpdateExpression: "ADD #done :chunk, #processed :rows, #imported :imported SET #updatedAt = :now",
          ConditionExpression: "attribute_exists(pk) AND NOT contains(#done, :n)",
          ExpressionAttributeNames: {
            "#done": "doneChunks",
            "#processed": "processed",
            "#imported": "imported",
            "#updatedAt": "updatedAt",
          },
          ExpressionAttributeValues: {
            ":chunk": new Set([chunk]),
            ":n": chunk,
            ":rows": rows,
            ":imported": imported,
            ":now": now,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
    } catch (error) {
      if (isConditionalFailure(error)) return undefined; // counted already, or the job expired
      throw error;
    }
    const job = out.Attributes ?? {};
    const done = (job.doneChunks as Set<number> | undefined)?.size ?? 0;
    if (done < (job.chunks as number)) return undefined;
    await this.finish(id, "completed", now);
    return { listId: job.listId as string, processed: Number(job.processed), imported: Number(job.imported) };
  }

  async finish(id: string, status: "completed" | "failed", now: string): Promise<void> {
    // Only a running job finishes; a repeat finds it finished and changes nothing.
    await updateIf(this.db, {
      TableName: this.table,
      Key: importKey(id),
      UpdateExpression: "SET #status = :status, completedAt = :now, updatedAt = :now",
      ConditionExpression: "#status = :running",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":status": status, ":running": "running", ":now": now },
    });
  }
}
