// @vitest-environment node
import { describe, expect, it } from "vitest";
import { connectionLabel } from "./connectionLabel";

describe("connectionLabel", () => {
  it.each([
    ["open", "connected"],
    ["connecting", "connecting"],
    ["offline", "offline"],
    ["idle", "offline"],
    ["closed_auth", "signed out elsewhere"],
    ["closed_forbidden", "access withdrawn"],
  ] as const)("%s reads %s", (state, text) => {
    expect(connectionLabel(state, null, 0)).toBe(text);
  });

  it("counts down whole seconds to the next attempt, never below 1", () => {
    expect(connectionLabel("reconnecting", 10_000, 0)).toBe("reconnecting in 10s");
    expect(connectionLabel("reconnecting", 10_000, 500)).toBe("reconnecting in 10s");
    expect(connectionLabel("reconnecting", 10_000, 1_000)).toBe("reconnecting in 9s");
    expect(connectionLabel("reconnecting", 10_000, 9_999)).toBe("reconnecting in 1s");
    expect(connectionLabel("reconnecting", 10_000, 12_000)).toBe("reconnecting in 1s");
  });
});
