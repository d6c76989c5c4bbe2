import { LOCAL_CREDENTIALS } from "./local-account.ts";

/** An item, or an item's keys, in DynamoDB's JSON wire format (`{ "pk": { "S": "…" } }`). */
export type WireItem = Record<string, unknown>;

class DynamoWireError extends Error {
  override readonly name = "DynamoWireError";
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
  }
}

/**
 * DynamoDB Local's JSON protocol, for one region's replica, as the replicator uses it: the Streams
 * API (DescribeStream, GetShardIterator, GetRecords) and plain item writes, with items kept in the
 * wire format they come out of a stream in (binary values stay base64, number strings stay as
 * DynamoDB wrote them), so that an image is written to another replica exactly as it was read.
 *
 * Why not the SDK: the project depends on the DynamoDB client only, not on the DynamoDB Streams
 * client, and the DynamoDB client would convert images to and from its own types. DynamoDB Local
 * does not check signatures: it reads the access key id and the region from the credential scope
 * to choose the store, one per region here, so that scope is all a request carries.
 */
export class DynamoWire {
  constructor(
    private readonly endpoint: string,
    readonly region: string,
  ) {}

  async call<T>(service: "dynamodb" | "streams", operation: string, body: object): Promise<T> {
    const target = service === "streams" ? "DynamoDBStreams_20120810" : "DynamoDB_20120810";
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const response = await fetch(this.endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": `${target}.${operation}`,
        authorization:
          `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/${day}/${this.region}/dynamodb/aws4_request, ` +
          `SignedHeaders=content-type;host;x-amz-target, Signature=${"0".repeat(64)}`,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = (text ? JSON.parse(text) : {}) as { __type?: string; Message?: string; message?: string };
    if (!response.ok) {
      const type = (parsed.__type ?? `HTTP ${response.status}`).split("#").pop() ?? "";
      throw new DynamoWireError(type, parsed.Message ?? parsed.message ?? text);
    }
    return parsed as T;
  }
}
