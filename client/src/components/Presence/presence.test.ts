import { describe, expect, it } from "vitest";
import { applyDiff, applyState, EMPTY_PRESENCE, sortedUsers } from "./presence";

const alice = { userId: 1, username: "alice", status: "active" as const };
const bob = { userId: 2, username: "bob", status: "active" as const };

describe("presence", () => {
  it("applies consecutive diffs: joins, updates, leaves", () => {
    let view = applyState(EMPTY_PRESENCE, { version: 4, users: [alice] });
    let step = applyDiff(view, { version: 5, joins: [bob], leaves: [], updates: [] });
    expect(step.gap).toBe(false);
    view = step.view;
    step = applyDiff(view, { version: 6, joins: [], leaves: [1], updates: [{ ...bob, status: "idle" }] });
    expect(sortedUsers(step.view)).toEqual([{ ...bob, status: "idle" }]);
    expect(step.view.version).toBe(6);
  });

  it("reports a version gap and keeps the old view until the snapshot comes", () => {
    const view = applyState(EMPTY_PRESENCE, { version: 4, users: [alice] });
    const step = applyDiff(view, { version: 6, joins: [bob], leaves: [], updates: [] });
    expect(step.gap).toBe(true);
    expect(step.view).toBe(view);
    const fresh = applyState(view, { version: 6, users: [alice, bob] });
    expect(sortedUsers(fresh).map((u) => u.username)).toEqual(["alice", "bob"]);
  });

  it("ignores a diff it already has and an older snapshot", () => {
    const view = applyState(EMPTY_PRESENCE, { version: 4, users: [alice] });
    expect(applyDiff(view, { version: 4, joins: [bob], leaves: [], updates: [] })).toEqual({ view, gap: false });
    expect(applyState(view, { version: 3, users: [] })).toBe(view);
  });
});
