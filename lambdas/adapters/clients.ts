import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * SDK client factories. On AWS they use the function's region and credentials. The local runtime
 * points them at emulators through the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, plus
 * `STEADFAST_SES_ENDPOINTS` (a JSON map region → URL) because the sender talks to SES in several
 * regions at once.
 */
export function createDocumentClient(): DynamoDBDocumentClient {
  // No DynamoDB call here takes seconds; a request that hangs is abandoned and retried, and can
  // never land long after its caller gave up (the fan-out's lease relies on that).
  return DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler: { requestTimeout: 10_000 } }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createSqsClient(): SQSClient {
  // The queue URL's host is not used as the endpoint: on AWS they agree, and locally the
  // emulator's queue URLs name hosts that do not resolve.
  return new SQSClient({ useQueueUrlAsEndpoint: false });
}

export function createSesClient(region: string): SESv2Client {
  const endpoints = parseEndpoints(process.env.STEADFAST_SES_ENDPOINTS);
  const endpoint = endpoints[region];
  // Short timeouts: a region that hangs must fail over quickly rather than eat the invocation.
  return new SESv2Client({
    region,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    ...(endpoint ? { endpoint } : {}),
  });
}

function parseEndpoints(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== "object" || parsed === null)
    throw new Error("STEADFAST_SES_ENDPOINTS must be a JSON object");
  return parsed as Record<string, string>;
}
