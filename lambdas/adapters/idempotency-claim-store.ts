import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { isConditionalFailure, isReplicatedWriteConflict } from "./dynamo/errors.ts";
import { idempotencyClaimKey } from "./dynamo/keys.ts";
import { inProgress } from "./idempotency-store.ts";

/** Which region runs a request under an Idempotency-Key. */
export type ClaimResult =
  /** This region: its own replica's record decides (run, replay, or still in progress). */
  | { readonly kind: "here" }
  /** Another region took it (`done` once it answered): its record replicates here within seconds. */
  | { readonly kind: "elsewhere"; readonly region: string; readonly done: boolean }
  /** The key was used with another request. */
  | { readonly kind: "mismatch" };

/**
 * Which region took a request under an Idempotency-Key, in the strongly consistent coordination
 * table (`IDEMPOTENCY#<scope>#<key>` / `CLAIM`): the same request retried through another region
 * within the replication lag is not run twice there. The response itself stays in the region's
 * replica (IdempotencyStore), where it replicates to the others.
 *
 * One writer: the region that claimed the key, or one that takes over a claim abandoned in progress
 * (its lease ran out). MRSC tables have no TTL: an expired claim is treated as absent and
 * overwritten by the next request under its key; a ReplicatedWriteConflictException means another
 * region wrote the claim at the same moment, and it is read again.
 */
export class IdempotencyClaimStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly region: string,
  ) {}

  async claim(scope: string, key: string, requestHash: string, nowMs: number): Promise<ClaimResult> {
    const taken = inProgress(requestHash, Math.floor(nowMs / 1000));
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...idempotencyClaimKey(scope, key),
            region: this.region,
            ...taken.item,
          },
          ...taken.condition,
        }),
      );
      return { kind: "here" };
    } catch (error) {
      if (!isConditionalFailure(error) && !isReplicatedWriteConflict(error)) throw error;
    }
    const found = (
      await this.db.send(
        new GetCommand({ TableName: this.table, Key: idempotencyClaimKey(scope, key), ConsistentRead: true }),
      )
    ).Item;
    if (!found) return this.claim(scope, key, requestHash, nowMs);
    if (found.requestHash !== requestHash) return { kind: "mismatch" };
    if (found.region === this.region) return { kind: "here" };
    return { kind: "elsewhere", region: String(found.region), done: found.state === "done" };
  }

  /** The request answered: its claim holds for the rest of the key's 24 hours. */
  async complete(scope: string, key: string): Promise<void> {
    await this.mine(
      new UpdateCommand({
        TableName: this.table,
        Key: idempotencyClaimKey(scope, key),
        UpdateExpression: "SET #state = :done REMOVE #lease",
        ConditionExpression: "#region = :region",
        ExpressionAttributeNames: { "#state": "state", "#lease": "leaseUntil", "#region": "region" },
        ExpressionAttributeValues: { ":done": "done", ":region": this.region },
      }),
    );
  }

  /** The request was refused: the key is free again, in every region. */
  async abandon(scope: string, key: string): Promise<void> {
    await this.mine(
      new DeleteCommand({
        TableName: this.table,
        Key: idempotencyClaimKey(scope, key),
        ConditionExpression: "#region = :region",
        ExpressionAttributeNames: { "#region": "region" },
        ExpressionAttributeValues: { ":region": this.region },
      }),
    );
  }

  /** A write to a claim this region holds; nothing happens if another region has taken it over. */
  private async mine(command: UpdateCommand | DeleteCommand): Promise<void> {
    try {
      await this.db.send(command);
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }
}
