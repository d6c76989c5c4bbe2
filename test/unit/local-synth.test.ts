import { describe, expect, it } from "vitest";
import { synthContext } from "../../local/runtime.ts";

describe("the local runtime's synthesis", () => {
  it("does not depend on the send rate, so runtimes at different rates share one synthesized app", () => {
    expect(synthContext({ sendRate: 20 })).toEqual(synthContext({ sendRate: 2000 }));
    expect(synthContext({ sendRate: 20 })).toEqual(synthContext({}));
  });

  it("does depend on the settings that change the app", () => {
    expect(synthContext({ sendMode: "spread" })).not.toEqual(synthContext({}));
    expect(synthContext({ coordination: "none" })).not.toEqual(synthContext({}));
  });
});
