import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "../../lib/config.ts";
import { shippedContext } from "./support.ts";

const shipped = shippedContext().steadfast as Record<string, unknown>;
const withChanges = (changes: Record<string, unknown>) => ({ ...shipped, ...changes });

/** Runs parseConfig and returns the ConfigError it throws. */
function configError(raw: unknown): ConfigError {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("accepts the shipped configuration and fills defaults", () => {
    const config = parseConfig(shipped);
    expect(config.regions).toEqual(["us-east-1", "us-west-2"]);
    expect(config.senderConcurrency).toBe(2);
    expect(config.alarmEmail).toBeUndefined();
    expect(config.account).toBeUndefined();
    expect(config.coordination).toBe("auto");
  });

  it.each([
    ["primaryRegion", { primaryRegion: "eu-west-1" }, /eu-west-1 must be one of the configured regions/],
    ["regions", { regions: ["us-east-1", "us-east-1"] }, /us-east-1 is listed more than once/],
    ["regions", { regions: [] }, /at least one region/],
    ["regions", { regions: ["us-east-1", "Oregon"] }, /regions\.1: must look like an AWS region/],
    ["fromAddress", { fromAddress: "not-an-email" }, /must be an email address/],
    ["fromAddress", { fromAddress: "news@example.org" }, /senderDomain example\.com/],
    ["maxSendRate", { maxSendRate: -1 }, /must be > 0/],
    ["maxSendRate", { maxSendRate: "fast" }, /must be a number/],
    ["queueRetentionDays", { queueRetentionDays: 15 }, /<= 14/],
    ["logRetentionDays", { logRetentionDays: 31 }, /CloudWatch Logs retention values/],
    ["apiThrottle", { apiThrottle: { rateLimit: 0, burstLimit: 10 } }, /apiThrottle\.rateLimit: must be > 0/],
    ["alarmEmail", { alarmEmail: "ops" }, /must be an email address/],
    ["senderConcurrency", { senderConcurrency: 1 }, />= 2/],
    ["account", { account: "1234" }, /12-digit/],
    ["appName", { appName: "Steadfast!" }, /lowercase letters/],
    ["coordination", { coordination: "mrsc" }, /must be "auto" or "none"/],
    ["regoins", { regoins: ["us-east-1"] }, /unknown key/],
  ])("rejects a bad %s", (key, changes, message) => {
    const error = configError(withChanges(changes));
    expect(error.key).toBe(key);
    expect(error.message).toContain(`"${key}"`);
    expect(error.message).toMatch(message);
  });

  it("names a missing key", () => {
    const { senderDomain: _, ...rest } = shipped;
    expect(configError(rest).message).toBe('Invalid Steadfast config "senderDomain": is required');
  });

  it("accepts a sender address at a subdomain and a single region", () => {
    const config = parseConfig(withChanges({ fromAddress: "news@mail.example.com", regions: ["us-east-1"] }));
    expect(config.fromAddress).toBe("news@mail.example.com");
  });

  it("rejects a missing context object", () => {
    expect(configError(undefined).key).toBe("steadfast");
  });
});

describe("loadConfig", () => {
  it("applies -c key=value overrides given as strings", () => {
    const app = new App({
      context: {
        steadfast: shipped,
        regions: "us-east-1, eu-west-1",
        maxSendRate: "20",
        alarmEmail: "ops@example.com",
        account: "123456789012",
        apiThrottle: '{"rateLimit":5,"burstLimit":10}',
        coordination: "none",
      },
    });
    const config = loadConfig(app);
    expect(config.regions).toEqual(["us-east-1", "eu-west-1"]);
    expect(config.maxSendRate).toBe(20);
    expect(config.alarmEmail).toBe("ops@example.com");
    expect(config.account).toBe("123456789012");
    expect(config.apiThrottle).toEqual({ rateLimit: 5, burstLimit: 10 });
    expect(config.coordination).toBe("none");
  });

  it("validates overrides like the rest of the config", () => {
    const app = new App({ context: { steadfast: shipped, primaryRegion: "ap-south-1" } });
    expect(() => loadConfig(app)).toThrow(
      /"primaryRegion": ap-south-1 must be one of the configured regions/,
    );
  });

  it("reports an override that is not valid JSON", () => {
    const app = new App({ context: { steadfast: shipped, apiThrottle: "{rateLimit:5" } });
    expect(() => loadConfig(app)).toThrow(ConfigError);
  });
});
