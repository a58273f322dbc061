// @vitest-environment node
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEnvironment } from "../test/FakeWebSocket";
import { Reconnector } from "./reconnect";
import type { ConnectionState, TransitionDetail } from "./state";

let env: FakeEnvironment;

/** A Reconnector whose connection only records: states moved to, and attempts started. */
function setup() {
  const host = {
    current: "open" as ConnectionState,
    moves: [] as Array<[ConnectionState, TransitionDetail]>,
    attempts: 0,
  };
  const reconnect = new Reconnector({ baseMs: 500, capMs: 30_000, random: () => 0.5 }, env, {
    state: () => host.current,
    setState: (newState, detail) => {
      host.current = newState;
      host.moves.push([newState, detail]);
    },
    openSocket: () => {
      host.attempts += 1;
      host.current = "connecting";
    },
  });
  reconnect.start();
  return { host, reconnect };
}

beforeEach(() => {
  vi.useFakeTimers();
  env = new FakeEnvironment();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Reconnector", () => {
  it("tries again after the backoff delay, which grows until the server accepts a socket", () => {
    const { host, reconnect } = setup();
    reconnect.schedule(0, 1006, "connection lost");
    expect(host.moves).toEqual([
      ["reconnecting", { reason: "connection lost", retryAt: Date.now() + 250, closeCode: 1006 }],
    ]);
    vi.advanceTimersByTime(249);
    expect(host.attempts).toBe(0);
    vi.advanceTimersByTime(1);
    expect(host.attempts).toBe(1);
    expect(reconnect.attempts).toBe(1);
    reconnect.reset();
    expect(reconnect.attempts).toBe(0);
  });

  it("waits offline for the browser, and tries at once when it comes back", () => {
    const { host, reconnect } = setup();
    env.online = false;
    reconnect.schedule(0, 1006, "connection lost");
    expect(host.current).toBe("offline");
    vi.advanceTimersByTime(60_000);
    expect(host.attempts).toBe(0);
    env.goOnline();
    expect(host.attempts).toBe(1);
  });

  it("keeps a rate-limit wait when the tab becomes visible, but not a normal one", () => {
    const { host, reconnect } = setup();
    reconnect.schedule(10_000, 4429, "rate limited");
    env.setVisibility("visible");
    expect(host.attempts).toBe(0);
    reconnect.schedule(0, 1006, "connection lost");
    env.setVisibility("visible");
    expect(host.attempts).toBe(1);
  });

  it("ignores the browser once stopped", () => {
    const { host, reconnect } = setup();
    reconnect.schedule(0, 1006, "connection lost");
    reconnect.stop();
    env.goOffline();
    env.goOnline();
    vi.advanceTimersByTime(60_000);
    expect(host.attempts).toBe(0);
    expect(host.current).toBe("reconnecting");
  });
});
