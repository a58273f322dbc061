import { describe, expect, it } from "vitest";
import type { DashboardUpdatePayload } from "../../realtime/protocol.gen";
import { addUpdate, EMPTY_DASHBOARD, liveInstances, sharedFigures, total } from "./dashboard";

function update(instance: string, at: number, connections: number, queued = 0): DashboardUpdatePayload {
  return {
    instance,
    at,
    interval: 1,
    figures: { connections: { connections, users: 1, messagesInPerSecond: 2, framesOutPerSecond: 3 } },
    shared: { documents: { queued } },
    errors: [],
  };
}

describe("dashboard", () => {
  it("sums per-instance figures and takes shared ones once", () => {
    let state = addUpdate(EMPTY_DASHBOARD, update("a", 10_000, 3, 1));
    state = addUpdate(state, update("b", 10_500, 4, 2));
    const live = liveInstances(state, 10_600);
    expect(live.map((u) => u.instance)).toEqual(["a", "b"]);
    expect(total(live, "connections", "connections")).toBe(7);
    expect(sharedFigures(live)).toEqual({ documents: { queued: 2 } });
    expect(state.points.at(-1)).toEqual({ t: 10, connections: 7, users: 2, inPerSecond: 4, outPerSecond: 6 });
    expect(state.points).toHaveLength(1); // same second: one point
  });

  it("leaves out an instance that stopped reporting", () => {
    let state = addUpdate(EMPTY_DASHBOARD, update("a", 10_000, 3));
    state = addUpdate(state, update("b", 20_000, 4));
    expect(liveInstances(state, 20_000).map((u) => u.instance)).toEqual(["b"]);
    expect(state.points.at(-1)?.connections).toBe(4);
  });
});
