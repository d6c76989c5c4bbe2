import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { OwnershipStore } from "../../lambdas/adapters/ownership-store.ts";

const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(db);
const NOW = Date.parse("2026-06-01T12:00:00Z");

beforeEach(() => mock.reset());

describe("campaign owners without a coordination table", () => {
  const store = new OwnershipStore(db, "audience", false);

  it("renews in the region's own lease item, never in the owner item a takeover writes", async () => {
    mock.on(UpdateCommand).resolves({});
    const renewed = await store.renew(
      { campaignId: "c1", ownerRegion: "us-east-1", epoch: 1, leaseUntil: NOW },
      NOW,
      90_000,
    );
    expect(renewed?.leaseUntil).toBe(NOW + 90_000);
    expect(mock.commandCalls(PutCommand)).toHaveLength(0);
    const update = mock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.Key).toEqual({ pk: "CAMPAIGN#c1", sk: "LEASE#us-east-1" });
    // An update of the two attributes: a finish mark on the item is kept.
    expect(update?.UpdateExpression).toBe("SET epoch = :epoch, leaseUntil = :until");
    expect(update?.ExpressionAttributeValues).toEqual({ ":epoch": 1, ":until": NOW + 90_000 });
  });

  it("marks a finished campaign in the owner's lease item, and reads the mark at the owner's epoch", async () => {
    mock.on(UpdateCommand).resolves({});
    await store.finish(
      { campaignId: "c1", ownerRegion: "us-east-1", epoch: 1, leaseUntil: NOW },
      "2026-06-01T12:00:00.000Z",
    );
    const update = mock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.Key).toEqual({ pk: "CAMPAIGN#c1", sk: "LEASE#us-east-1" });
    expect(update?.ExpressionAttributeValues).toMatchObject({ ":at": "2026-06-01T12:00:00.000Z" });
    // A lease item written first by the finish still holds a lease: the owner item's.
    expect(update?.UpdateExpression).toContain("leaseUntil = if_not_exists(leaseUntil, :until)");
    expect(update?.ExpressionAttributeValues).toMatchObject({ ":until": NOW });

    mock
      .on(GetCommand, { Key: { pk: "CAMPAIGN#c1", sk: "OWNER" } })
      .resolves({ Item: { ownerRegion: "us-east-1", epoch: 1, leaseUntil: NOW } });
    mock
      .on(GetCommand, { Key: { pk: "CAMPAIGN#c1", sk: "LEASE#us-east-1" } })
      .resolves({ Item: { epoch: 1, leaseUntil: NOW, finishedAt: "2026-06-01T12:00:00.000Z" } });
    expect((await store.get("c1"))?.finishedAt).toBe("2026-06-01T12:00:00.000Z");
  });

  it("reads the owner item, then the owner's lease at the owner's epoch (a stale lease counts for nothing)", async () => {
    mock
      .on(GetCommand, { Key: { pk: "CAMPAIGN#c1", sk: "OWNER" } })
      .resolves({ Item: { ownerRegion: "us-west-2", epoch: 2, leaseUntil: NOW + 1_000 } });
    mock
      .on(GetCommand, { Key: { pk: "CAMPAIGN#c1", sk: "LEASE#us-west-2" } })
      .resolves({ Item: { epoch: 2, leaseUntil: NOW + 60_000 } });
    expect(await store.get("c1")).toEqual({
      campaignId: "c1",
      ownerRegion: "us-west-2",
      epoch: 2,
      leaseUntil: NOW + 60_000,
    });
    mock
      .on(GetCommand, { Key: { pk: "CAMPAIGN#c1", sk: "LEASE#us-west-2" } })
      .resolves({ Item: { epoch: 1, leaseUntil: NOW + 60_000 } });
    expect((await store.get("c1"))?.leaseUntil).toBe(NOW + 1_000);
  });
});

describe("campaign owners in the coordination table", () => {
  const store = new OwnershipStore(db, "coordination", true);

  it("renews with a conditional write on the owner item at the owner's epoch", async () => {
    mock.on(UpdateCommand).resolves({});
    await store.renew({ campaignId: "c1", ownerRegion: "us-east-1", epoch: 3, leaseUntil: NOW }, NOW, 90_000);
    const update = mock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.Key).toEqual({ pk: "CAMPAIGN#c1", sk: "OWNER" });
    expect(update?.ConditionExpression).toBe("ownerRegion = :region AND epoch = :epoch");
  });

  it("marks a finished campaign on the owner item at the owner's epoch; a takeover needs it unmarked", async () => {
    mock.on(UpdateCommand).resolves({});
    const owner = { campaignId: "c1", ownerRegion: "us-east-1", epoch: 3, leaseUntil: NOW };
    await store.finish(owner, "2026-06-01T12:00:00.000Z");
    const finish = mock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(finish?.Key).toEqual({ pk: "CAMPAIGN#c1", sk: "OWNER" });
    expect(finish?.UpdateExpression).toBe("SET finishedAt = :at");
    expect(finish?.ConditionExpression).toBe("ownerRegion = :region AND epoch = :epoch");
    await store.takeOver(owner, "us-west-2", NOW + 1, 90_000);
    expect(mock.commandCalls(UpdateCommand)[1]?.args[0].input.ConditionExpression).toContain(
      "attribute_not_exists(finishedAt)",
    );
  });

  it("treats a write conflict with another region as a lost claim, and reads the winner", async () => {
    mock
      .on(PutCommand)
      .rejects(Object.assign(new Error("conflict"), { name: "ReplicatedWriteConflictException" }));
    mock.on(GetCommand).resolves({ Item: { ownerRegion: "us-west-2", epoch: 1, leaseUntil: NOW + 90_000 } });
    expect((await store.claim("c1", "us-east-1", NOW, 90_000)).ownerRegion).toBe("us-west-2");
  });
});
