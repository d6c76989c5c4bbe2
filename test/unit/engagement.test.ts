import { describe, expect, it } from "vitest";
import {
  decodeEngagement,
  encodeEngagement,
  isMachineAgent,
  judgeEngagement,
  SCANNER_CLICK_MS,
} from "../../lambdas/domain/engagement.ts";

const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const SENT = "2026-05-01T10:00:00.000Z";
const at = (ms: number) => new Date(Date.parse(SENT) + ms).toISOString();
const click = (ms: number, link: string, machineAgent = false) =>
  encodeEngagement({ kind: "click", at: at(ms), link, machineAgent });

describe("opens and clicks, judged", () => {
  it("knows scanners, proxies and HTTP libraries by user agent or address, and people's browsers", () => {
    for (const agent of [
      "Barracuda Sentinel (EE)",
      "Mozilla/5.0",
      "python-requests/2.31",
      "Googlebot/2.1",
      "Mimecast",
    ])
      expect(isMachineAgent(agent, "192.0.2.1"), agent).toBe(true);
    expect(isMachineAgent(PHONE, "17.58.1.2")).toBe(true);
    expect(isMachineAgent(PHONE, "192.0.2.1")).toBe(false);
    expect(isMachineAgent(undefined, undefined)).toBe(false);
  });

  it("keeps an entry whole through encoding, a link with the separator in it included", () => {
    const entry = { kind: "click", at: SENT, machineAgent: true, link: "https://x.test/?a=1|2" } as const;
    expect(decodeEngagement(encodeEngagement(entry))).toEqual(entry);
    expect(decodeEngagement("x|y")).toBeUndefined();
  });

  it("judges a click right after the send, and a burst over three links, as machines; a later click as a person's", () => {
    const judged = judgeEngagement(
      [
        click(SCANNER_CLICK_MS - 1, "a"),
        click(60_000, "a"),
        click(120_000, "a"),
        click(120_200, "b"),
        click(120_400, "c"),
        click(300_000, "b"),
        click(400_000, "c", true),
      ],
      SENT,
    );
    expect(judged.map((e) => [e.link, e.human])).toEqual([
      ["a", false],
      ["a", true],
      ["a", false],
      ["b", false],
      ["c", false],
      ["b", true],
      ["c", false],
    ]);
  });

  it("does not call two quick clicks on the same links a burst", () => {
    const judged = judgeEngagement([click(60_000, "a"), click(60_100, "b"), click(60_200, "a")], SENT);
    expect(judged.every((e) => e.human)).toBe(true);
  });
});
