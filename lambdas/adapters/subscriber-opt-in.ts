import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Consent } from "../domain/opt-in.ts";
import { mapLimit } from "../shared/concurrency.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { subscriberKey } from "./dynamo/keys.ts";

export type ConfirmationRequest = "requested" | "too-soon" | "not-pending" | "absent";
export type ConfirmOutcome = "confirmed" | "already" | "not-pending" | "absent";

/**
 * The double opt-in writes of subscriber items (part of SubscriberStore, their one writer): a
 * pending subscriber's turn for a confirmation email, and the confirmation itself.
 */
export class SubscriberOptIn {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly get: (
      listId: string,
      email: string,
    ) => Promise<{ readonly status: string; readonly consent?: Consent } | undefined>,
  ) {}

  /**
   * Takes a pending subscriber's turn for another confirmation email: at most one per `intervalMs`
   * per address and list.
   */
  async requestConfirmation(
    listId: string,
    email: string,
    now: Date,
    intervalMs: number,
  ): Promise<ConfirmationRequest> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: subscriberKey(listId, email),
          UpdateExpression: "SET confirmationRequestedAt = :now",
          ConditionExpression:
            "#status = :pending AND (attribute_not_exists(confirmationRequestedAt) OR confirmationRequestedAt < :cutoff)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":now": now.toISOString(),
            ":pending": "pending",
            ":cutoff": new Date(now.getTime() - intervalMs).toISOString(),
          },
        }),
      );
      return "requested";
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      const current = await this.get(listId, email);
      if (!current) return "absent";
      return current.status === "pending" ? "too-soon" : "not-pending";
    }
  }

  /** Records that a confirmation email was asked for these pending subscribers (first time only). */
  async markRequested(listId: string, emails: readonly string[], now: string): Promise<void> {
    await mapLimit(emails, 16, async (email) => {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: subscriberKey(listId, email),
            UpdateExpression: "SET confirmationRequestedAt = if_not_exists(confirmationRequestedAt, :now)",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":now": now },
          }),
        );
      } catch (error) {
        if (!isConditionalFailure(error)) throw error; // erased meanwhile: nothing to mark
      }
    });
  }

  /**
   * Double opt-in: `pending → subscribed`, with the consent the confirmation proves (the request's
   * consent kept inside it as `requested`). Repeating it changes nothing.
   */
  async confirm(
    listId: string,
    email: string,
    consent: Omit<Consent, "requested">,
    now: string,
  ): Promise<ConfirmOutcome> {
    const current = await this.get(listId, email);
    if (!current) return "absent";
    if (current.status !== "pending")
      return current.consent?.source === "double-opt-in" ? "already" : "not-pending";
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: subscriberKey(listId, email),
          UpdateExpression: "SET #status = :subscribed, consent = :consent, updatedAt = :now",
          ConditionExpression: "#status = :pending",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":subscribed": "subscribed",
            ":pending": "pending",
            ":now": now,
            ":consent": { ...consent, ...(current.consent ? { requested: current.consent } : {}) },
          },
        }),
      );
      return "confirmed";
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      return this.confirm(listId, email, consent, now);
    }
  }
}
