import { ENV } from "../contracts/env.ts";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { tracer } from "../shared/powertools.ts";

/**
 * SDK client factories. On AWS they use the function's region and credentials. The local runtime
 * points them at emulators through the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, plus
 * `STEADFAST_SES_ENDPOINTS` (a JSON map region → URL) because the sender talks to SES in several
 * regions at once. Every client is traced: on Lambda each call becomes an X-Ray subsegment.
 */
export function createDocumentClient(): DynamoDBDocumentClient {
  // No DynamoDB call here takes seconds; a request that hangs is abandoned and retried, and can
  // never land long after its caller gave up (the fan-out's lease relies on that).
  // The document client shares the middleware stack of the client it wraps, so tracing the
  // DynamoDB client traces the document client's calls.
  const client = traced(new DynamoDBClient({ requestHandler: { requestTimeout: 10_000 } }));
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function createSqsClient(): SQSClient {
  // The queue URL's host is not used as the endpoint: on AWS they agree, and locally the
  // emulator's queue URLs name hosts that do not resolve.
  return traced(new SQSClient({ useQueueUrlAsEndpoint: false }));
}

export function createSesClient(region: string): SESv2Client {
  const endpoints = parseEndpoints(process.env[ENV.sesEndpoints]);
  const endpoint = endpoints[region];
  // Short timeouts: a region that hangs must fail over quickly rather than eat the invocation.
  return traced(
    new SESv2Client({
      region,
      // No retries by the SDK: an unknown outcome is the application's to judge (ses-errors.ts).
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
      ...(endpoint ? { endpoint } : {}),
    }),
  );
}

/** Traces a client built elsewhere (returned as is where tracing is off). */
export function traced<Client>(client: Client): Client {
  return tracer.captureAWSv3Client(client);
}

function parseEndpoints(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== "object" || parsed === null)
    throw new Error("STEADFAST_SES_ENDPOINTS must be a JSON object");
  return parsed as Record<string, string>;
}

/**
 * The client of the coordination table (campaign owners). On AWS, the function's own region's
 * replica of the MRSC table; locally the runtime names the one region whose store holds it
 * (`STEADFAST_COORDINATION_REGION`), reached through this region's own endpoint, so a region cut off
 * from DynamoDB is cut off from it too.
 */
export function createCoordinationClient(): DynamoDBDocumentClient {
  const region = process.env[ENV.coordinationRegion];
  const client = traced(
    new DynamoDBClient({ requestHandler: { requestTimeout: 10_000 }, ...(region ? { region } : {}) }),
  );
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
