import type { App } from "aws-cdk-lib";
import { z } from "zod";

/** CDK context key holding the Steadfast configuration object (see cdk.json). */
const CONTEXT_KEY = "steadfast";

/** Raised when the configuration is invalid; `key` names the offending top-level key. */
export class ConfigError extends Error {
  readonly key: string;

  constructor(key: string, detail: string) {
    super(`Invalid Steadfast config "${key}": ${detail}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

// Values CloudWatch Logs accepts for a log group's retention.
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

// Commercial, GovCloud and China regions: us-east-1, us-gov-west-1, cn-north-1, ap-southeast-5...
const REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
const DOMAIN_PATTERN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
// Used to build physical names: DynamoDB tables, a secret, an SES configuration set
// (letters, digits, '-' and '_', at most 64 characters), so keep it short and simple.
const APP_NAME_PATTERN = /^[a-z][a-z0-9-]{1,31}$/;

const positive = (what: string) => z.number(`must be a number (${what})`).positive(`must be > 0 (${what})`);
const positiveInt = (what: string) => positive(what).int(`must be an integer (${what})`);

const dnsName = () =>
  z.string("must be a string").toLowerCase().regex(DOMAIN_PATTERN, "must be a DNS domain name");

/** A Route 53 public hosted zone, by id and name. */
const hostedZone = {
  hostedZoneId: z.string("must be a string").regex(/^Z[A-Z0-9]{1,31}$/, "must be a Route 53 hosted zone id"),
  zoneName: dnsName(),
};

/** A DynamoDB table name. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html */
const tableName = () =>
  z
    .string("must be a table name")
    .regex(/^[a-zA-Z0-9_.-]{3,255}$/, "must be a DynamoDB table name (3-255 of letters, digits, _ . -)");

const schema = z.strictObject({
  appName: z
    .string("must be a string")
    .regex(
      APP_NAME_PATTERN,
      "must be 2-32 chars of lowercase letters, digits and '-', starting with a letter",
    ),
  primaryRegion: z
    .string("must be a string")
    .regex(REGION_PATTERN, "must look like an AWS region, e.g. us-east-1"),
  regions: z
    .array(
      z.string("must be a string").regex(REGION_PATTERN, "must look like an AWS region, e.g. us-east-1"),
      "must be a list of AWS regions",
    )
    .min(1, "must list at least one region"),
  senderDomain: dnsName(),
  fromAddress: z.email("must be an email address"),
  maxSendRate: positive("emails per second"),
  // "failover": every email goes through the home region's SES, another region's only while the
  // home one is unavailable. "spread": when the home region's quota is the bottleneck, emails also
  // go through the other healthy regions' SES, each at its own quota (the same DKIM domain).
  sendMode: z.enum(["failover", "spread"], 'must be "failover" or "spread"').default("failover"),
  ledgerRetentionDays: positiveInt("days"),
  // SQS keeps messages for at most 14 days.
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
  queueRetentionDays: positiveInt("days").max(14, "must be <= 14 (SQS maximum retention)"),
  logRetentionDays: z
    .number("must be a number (days)")
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
      message: `must be one of the CloudWatch Logs retention values: ${LOG_RETENTION_DAYS.join(", ")}`,
    }),
  apiThrottle: z.strictObject(
    {
      rateLimit: positive("requests per second"),
      burstLimit: positiveInt("requests"),
    },
    "must be an object { rateLimit, burstLimit }",
  ),
  alarmEmail: z.email("must be an email address").optional(),
  // One public hostname for the API in every region, with health-based failover (Route 53 latency
  // records): unsubscribe links name it. Without it each region's links name its own stage URL.
  apiDomain: z
    .strictObject({ name: dnsName(), ...hostedZone }, "must be an object { name, hostedZoneId, zoneName }")
    .optional(),
  // The Route 53 public hosted zone that holds senderDomain: the stacks write its DKIM, MAIL FROM
  // and DMARC records. Without it they are stack outputs, to create by hand.
  senderDnsZone: z.strictObject(hostedZone, "must be an object { hostedZoneId, zoneName }").optional(),
  // Tables restored from a backup (docs/runbook.md#restore-a-table) that the stacks use instead of
  // the ones they created: each must already be a global table with a replica in every region.
  restoredTables: z
    .strictObject(
      { audience: tableName().optional(), ledger: tableName().optional() },
      "must be an object { audience?, ledger? } of table names",
    )
    .optional(),
  // Lambda's SQS event source accepts a maximum concurrency between 2 and 1000.
  // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
  senderConcurrency: positiveInt("concurrent senders")
    .min(2, "must be >= 2 (SQS event source minimum)")
    .max(1000, "must be <= 1000 (SQS event source maximum)")
    .default(2),
  // Whether campaigns get an owner lease in a strongly consistent (MRSC) coordination table when the
  // regions allow one ("auto"; see lib/coordination.ts), or stay owned by primaryRegion ("none").
  coordination: z.enum(["auto", "none"], 'must be "auto" or "none"').default("auto"),
  account: z
    .union([z.string(), z.number()], "must be a 12-digit AWS account id")
    .transform(String)
    .pipe(z.string().regex(/^\d{12}$/, "must be a 12-digit AWS account id"))
    .optional(),
});

export type SteadfastConfig = z.output<typeof schema>;

/** Top-level keys; each can be overridden on the command line with `-c key=value`. */
const CONFIG_KEYS = Object.keys(schema.shape) as (keyof SteadfastConfig)[];

/** Validates a raw configuration object. Pure: no CDK app needed. Throws {@link ConfigError}. */
export function parseConfig(raw: unknown): SteadfastConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(CONTEXT_KEY, `context "${CONTEXT_KEY}" must be an object (see cdk.json)`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue === undefined) throw new ConfigError(CONTEXT_KEY, result.error.message);
    if (issue.code === "unrecognized_keys") {
      throw new ConfigError(String(issue.keys[0]), `unknown key (known keys: ${CONFIG_KEYS.join(", ")})`);
    }
    const [key = CONTEXT_KEY, ...rest] = issue.path.map(String);
    if (rest.length === 0 && (raw as Record<string, unknown>)[key] === undefined) {
      throw new ConfigError(key, "is required");
    }
    const where = rest.length > 0 ? `${[key, ...rest].join(".")}: ` : "";
    throw new ConfigError(key, `${where}${issue.message}`);
  }
  const config = result.data;
  checkRegions(config);
  checkFromAddress(config);
  checkSenderDnsZone(config);
  checkApiDomain(config);
  return config;
}

function checkRegions({ regions, primaryRegion }: SteadfastConfig): void {
  const duplicate = regions.find((region, i) => regions.indexOf(region) !== i);
  if (duplicate !== undefined) {
    throw new ConfigError("regions", `region ${duplicate} is listed more than once`);
  }
  if (!regions.includes(primaryRegion)) {
    throw new ConfigError(
      "primaryRegion",
      `${primaryRegion} must be one of the configured regions [${regions.join(", ")}]`,
    );
  }
}

// SES only lets a verified domain identity send from that domain or its subdomains.
// https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html
function checkFromAddress({ fromAddress, senderDomain }: SteadfastConfig): void {
  const domain = fromAddress.slice(fromAddress.lastIndexOf("@") + 1).toLowerCase();
  if (domain !== senderDomain && !domain.endsWith(`.${senderDomain}`)) {
    throw new ConfigError(
      "fromAddress",
      `${fromAddress} must be an address at senderDomain ${senderDomain} or one of its subdomains`,
    );
  }
}

/**
 * Reads `steadfast` from the CDK context, applies `-c key=value` overrides of top-level keys,
 * and validates the result.
 */
export function loadConfig(app: App): SteadfastConfig {
  const base: unknown = app.node.tryGetContext(CONTEXT_KEY) ?? {};
  if (typeof base !== "object" || base === null || Array.isArray(base)) return parseConfig(base);
  const merged: Record<string, unknown> = { ...base };
  for (const key of CONFIG_KEYS) {
    const override: unknown = app.node.tryGetContext(key);
    if (override !== undefined) merged[key] = coerceOverride(key, override);
  }
  return parseConfig(merged);
}

const LIST_KEYS = new Set<string>(["regions"]);
const OBJECT_KEYS = new Set<string>(["apiThrottle"]);
const NUMBER_KEYS = new Set<string>([
  "maxSendRate",
  "ledgerRetentionDays",
  "queueRetentionDays",
  "logRetentionDays",
  "senderConcurrency",
]);

/**
 * `-c key=value` values arrive as strings: turn them into the type the schema expects.
 * Lists accept `a,b,c` or JSON; objects accept JSON; numbers accept decimal strings.
 */
function coerceOverride(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (LIST_KEYS.has(key)) {
    if (text.startsWith("[")) return parseJson(key, text);
    return text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  }
  if (OBJECT_KEYS.has(key)) return parseJson(key, text);
  if (NUMBER_KEYS.has(key) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(key, `-c ${key}=... is not valid JSON: ${text}`);
  }
}

function checkSenderDnsZone({ senderDnsZone, senderDomain }: SteadfastConfig): void {
  if (senderDnsZone === undefined) return;
  const { zoneName } = senderDnsZone;
  if (senderDomain !== zoneName && !senderDomain.endsWith(`.${zoneName}`)) {
    throw new ConfigError(
      "senderDnsZone",
      `zoneName: ${zoneName} must be senderDomain ${senderDomain} or a parent domain of it`,
    );
  }
}

function checkApiDomain({ apiDomain }: SteadfastConfig): void {
  if (apiDomain === undefined) return;
  const { name, zoneName } = apiDomain;
  if (name !== zoneName && !name.endsWith(`.${zoneName}`)) {
    throw new ConfigError("apiDomain", `name: ${name} must be in the zone ${zoneName}`);
  }
}
