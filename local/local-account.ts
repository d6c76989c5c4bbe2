/**
 * The one account the local runtime stands for. Every ARN, request context and event the emulators,
 * shims and pollers make up names this account id, and every client of the emulators signs with these
 * credentials (the emulators accept any; one pair keeps the logs and the functions' environment alike).
 */
export const LOCAL_ACCOUNT = "000000000000";

export const LOCAL_CREDENTIALS: { readonly accessKeyId: string; readonly secretAccessKey: string } = {
  accessKeyId: "local",
  secretAccessKey: "local",
};

/**
 * The account as each region's SES emulator reports it through GetAccount: out of the sandbox and
 * healthy, with `maxSendRate` as its MaxSendRate (the sender paces at the lower of it and its own cap).
 */
export function localSesAccount(maxSendRate: number) {
  return {
    DedicatedIpAutoWarmupEnabled: false,
    Details: {
      AdditionalContactEmailAddresses: [],
      ContactLanguage: "EN",
      MailType: "MARKETING",
      ReviewDetails: { CaseId: "local", Status: "GRANTED" },
      UseCaseDescription: "local emulator",
      WebsiteURL: "https://example.com",
    },
    EnforcementStatus: "HEALTHY",
    ProductionAccessEnabled: true,
    SendingEnabled: true,
    SendQuota: { Max24HourSend: 1_000_000, MaxSendRate: maxSendRate, SentLast24Hours: 0 },
    SuppressionAttributes: { SuppressedReasons: ["BOUNCE", "COMPLAINT"] },
  };
}
