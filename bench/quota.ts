import { SteadfastClient } from "../local/client.ts";
import { startCpuProfile } from "./cpu-profile.ts";
import {
  createCampaign,
  report,
  reportCpu,
  results,
  round,
  seedList,
  stats,
  until,
  withRuntime,
} from "./harness.ts";

/**
 * Quota utilisation: the home region throttled at `rate`, its rate known from GetAccount or
 * revealed only by 429s. With `feedback` off the local SES publishes no events for ordinary
 * addresses, so the measure shows what the same senders reach without the feedback path's load on
 * this machine's CPU (a diagnostic: on AWS that load is not on the senders' cores).
 */
export async function quotaUtilisation({
  rate: quotaRate,
  recipients,
  known,
  feedback = true,
}: {
  rate: number;
  recipients: number;
  known: boolean;
  feedback?: boolean;
}): Promise<void> {
  const label = `${known ? "rate known (GetAccount MaxSendRate = N)" : "rate revealed only by 429s"}${feedback ? "" : ", SES events off"}`;
  const name = `${known ? "known" : "429s only"}${feedback ? "" : ", SES events off"}`;
  process.stdout.write(`\nQuota utilisation, home region throttled at N = ${quotaRate}/s, ${label}\n`);
  const options = {
    sendRate: 200,
    sesMaxSendRate: known ? quotaRate : 200,
    ...(feedback ? {} : { sesEvents: "simulator" as const }),
  };
  await withRuntime(options, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, recipients, name);
    const id = await createCampaign(api, listId);
    await fetch(`${runtime.info.controlUrl}/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        target: "ses",
        region: "us-east-1",
        mode: "throttle",
        ratePerSecond: quotaRate,
      }),
    });
    const before = await stats(runtime);
    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    // Measure from the first accepted send to the last, as SES counts them (read in-process).
    const home = runtime.regions.find((r) => r.name === "us-east-1");
    if (!home) throw new Error("no us-east-1");
    const accepted = () => home.proxies.ses.stats.sesAccepted;
    const base = before.sesAccepted["us-east-1"] ?? 0;
    await until("first send", () => accepted() > base, 5 * 60_000, 10);
    const first = Date.now();
    const cpu = startCpuProfile();
    // Sends SES accepted in each second: where the rate dips (an invocation's end and the next's start).
    const perSecond: number[] = [];
    let last = accepted();
    const sampler = setInterval(() => {
      perSecond.push(accepted() - last);
      last = accepted();
    }, 1000);
    try {
      await until("every send", () => accepted() - base >= recipients, 30 * 60_000, 10);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - first) / 1000;
    reportCpu(`sending at a quota of ${quotaRate}/s, ${name}`, cpu.stop());
    const after = await stats(runtime);
    const calls =
      (after.requests.ses?.SendEmail?.["us-east-1"] ?? 0) -
      (before.requests.ses?.SendEmail?.["us-east-1"] ?? 0);
    const sent = (after.sesAccepted["us-east-1"] ?? 0) - base;
    const achieved = (recipients - 1) / seconds;
    const throttledPct = ((calls - sent) / calls) * 100;
    if (!feedback) results.utilKnownNoFeedback = round(achieved / quotaRate);
    else if (known) {
      results.utilKnown = round(achieved / quotaRate);
      results.throttledKnownPct = round(throttledPct, 2);
    } else {
      results.util429 = round(achieved / quotaRate);
      results.throttled429Pct = round(throttledPct, 2);
    }
    report(
      `utilisation (${name})`,
      `${(achieved / quotaRate).toFixed(2)} (${achieved.toFixed(1)}/s of ${quotaRate}/s)`,
    );
    report(`throttled SES calls (${name})`, `${throttledPct.toFixed(2)} % of ${calls}`);
    report(`sends accepted per second (${name})`, perSecond.join(" "));
  });
}
