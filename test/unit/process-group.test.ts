import { describe, expect, it } from "vitest";
import { ProcessGroup } from "../../local/processes.ts";

describe("ProcessGroup", () => {
  it("stops its children and leaves no exit listener behind, however many groups come and go", async () => {
    const before = process.listenerCount("exit");
    for (let i = 0; i < 3; i++) {
      const group = new ProcessGroup();
      const child = group.spawn("sleeper", process.execPath, ["-e", "setTimeout(() => {}, 60000)"], {});
      await group.stopAll(2_000);
      expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    }
    expect(process.listenerCount("exit")).toBe(before);
  });
});
