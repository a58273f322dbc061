import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEnvironment, FakeWebSocket } from "../test/FakeWebSocket";
import { Connection } from "./connection";
import type { ServerFrame } from "./protocol.gen";
import { RequestError } from "./requests";
import type { StateChange } from "./state";

let env: FakeEnvironment;

function makeConnection(random = () => 0.5): Connection {
  return new Connection({
    url: "ws://test/ws",
    WebSocket: FakeWebSocket,
    backoff: { baseMs: 500, capMs: 30_000, random },
    requestTimeoutMs: 1_000,
    environment: env,
  });
}

function record(connection: Connection) {
  const states: StateChange[] = [];
  const messages: ServerFrame[] = [];
  connection.on("state", (change) => states.push(change));
  connection.on("message", (frame) => messages.push(frame));
  return { states, messages };
}

function note(stream: string, seq: number) {
  return {
    type: "notification",
    payload: { message: `m${seq}`, from: "admin", createdAt: "2024-11-26T00:00:00Z", level: "info" },
    stream,
    seq,
  };
}

const seqsOf = (messages: ServerFrame[]) =>
  messages.filter((m) => m.type === "notification").map((m) => ("seq" in m ? m.seq : undefined));

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.reset();
  env = new FakeEnvironment();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("state machine", () => {
  it("goes idle → connecting → open and emits each change with its old state", () => {
    const c = makeConnection();
    const { states } = record(c);
    c.connect();
    expect(FakeWebSocket.last.url).toBe("ws://test/ws");
    FakeWebSocket.last.accept();
    expect(states.map((s) => [s.oldState, s.newState])).toEqual([
      ["idle", "connecting"],
      ["connecting", "open"],
    ]);
    expect(c.state).toBe("open");
    expect(c.hello?.user.username).toBe("admin");
  });

  it("starts offline when the browser is offline, and connects on the online event", () => {
    env.online = false;
    const c = makeConnection();
    c.connect();
    expect(c.state).toBe("offline");
    expect(FakeWebSocket.instances).toHaveLength(0);
    env.goOnline();
    expect(c.state).toBe("connecting");
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("disconnect() closes the socket with 1000 and rests idle", () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.accept();
    c.disconnect();
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 1000, reason: "client disconnect" });
    expect(c.state).toBe("idle");
  });
});

describe("reconnect backoff", () => {
  it("waits 0.5 s doubling to the 30 s cap (full jitter, random = 0.5), reset by hello", () => {
    const c = makeConnection(() => 0.5);
    c.connect();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      FakeWebSocket.last.serverClose(1006);
      expect(c.state).toBe("reconnecting");
      const delay = (c.retryAt ?? 0) - Date.now();
      delays.push(delay);
      const before = FakeWebSocket.instances.length;
      vi.advanceTimersByTime(delay - 1);
      expect(FakeWebSocket.instances.length).toBe(before);
      vi.advanceTimersByTime(1);
      expect(FakeWebSocket.instances.length).toBe(before + 1);
      expect(c.state).toBe("connecting");
    }
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    FakeWebSocket.last.accept();
    FakeWebSocket.last.serverClose(1006);
    expect((c.retryAt ?? 0) - Date.now()).toBe(250);
  });

  it("reconnects at once when the browser comes back online or the tab becomes visible", () => {
    const c = makeConnection(() => 0.99);
    c.connect();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.serverClose(1006);
    env.goOffline();
    expect(c.state).toBe("offline");
    env.goOnline();
    expect(c.state).toBe("connecting");
    FakeWebSocket.last.serverClose(1006);
    FakeWebSocket.last.serverClose(1006); // ignored: that socket is gone
    expect(c.state).toBe("reconnecting");
    env.setVisibility("visible");
    expect(c.state).toBe("connecting");
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it("goes offline instead of reconnecting when the socket closes while the browser is offline", () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.accept();
    env.online = false;
    FakeWebSocket.last.serverClose(1006);
    expect(c.state).toBe("offline");
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe("close-code policy", () => {
  it.each([
    [1001, "reconnecting"],
    [1006, "reconnecting"],
    [1009, "reconnecting"],
    [4408, "reconnecting"],
    [4429, "reconnecting"],
    [1007, "idle"],
    [1008, "idle"],
    [4401, "closed_auth"],
    [4403, "closed_forbidden"],
  ] as const)("close %i → %s", (code, expected) => {
    const c = makeConnection();
    const { states } = record(c);
    c.connect();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.serverClose(code);
    expect(c.state).toBe(expected);
    expect(states.at(-1)?.closeCode).toBe(code);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(expected === "reconnecting" ? 2 : 1);
  });

  it("waits at least 10 s after 4429, and does not cut that short when the tab becomes visible", () => {
    const c = makeConnection(() => 0);
    c.connect();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.serverClose(4429);
    expect((c.retryAt ?? 0) - Date.now()).toBe(10_000);
    env.setVisibility("visible");
    expect(c.state).toBe("reconnecting");
    vi.advanceTimersByTime(9_999);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it("fails pending requests on a stopping close, and disconnect() keeps the reason", async () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.accept();
    const pending = c.request({ type: "rpc", payload: { method: "session.info" } });
    FakeWebSocket.last.serverClose(4401);
    await expect(pending).rejects.toMatchObject({ code: "disconnected" });
    c.disconnect();
    expect(c.state).toBe("closed_auth");
    await expect(c.request({ type: "ping" })).rejects.toMatchObject({ code: "closed" });
  });

  it("reports whether the socket had opened, so a refused upgrade can be told apart", () => {
    const c = makeConnection();
    const closes: Array<{ code: number; wasOpen: boolean }> = [];
    c.on("close", ({ code, wasOpen }) => closes.push({ code, wasOpen }));
    c.connect();
    FakeWebSocket.last.serverClose(1006);
    vi.runOnlyPendingTimers();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.serverClose(1001);
    expect(closes).toEqual([
      { code: 1006, wasOpen: false },
      { code: 1001, wasOpen: true },
    ]);
  });
});

describe("requests", () => {
  it("correlates replies by id, in any order", async () => {
    const c = makeConnection();
    c.connect();
    const socket = FakeWebSocket.last;
    socket.accept();
    const first = c.request({ type: "rpc", payload: { method: "connections.list", params: {} } });
    const second = c.request({ type: "ping" });
    const [rpc, ping] = socket.frames;
    expect(rpc).toEqual({ type: "rpc", id: "1", payload: { method: "connections.list", params: {} } });
    expect(ping).toEqual({ type: "ping", id: "2" });
    socket.receive({ type: "pong", id: "2", payload: { serverTime: 5 } });
    socket.receive({ type: "rpc_result", id: "1", payload: { result: { users: [], total: 0 } } });
    await expect(second).resolves.toEqual({ serverTime: 5 });
    await expect(first).resolves.toEqual({ result: { users: [], total: 0 } });
  });

  it("rejects with a RequestError carrying the code of an error frame", async () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.accept();
    const pending = c.request({ type: "subscribe", payload: { topic: "admin:connections" } });
    FakeWebSocket.last.receive({ type: "error", id: "1", payload: { code: "forbidden", message: "admins only" } });
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: "forbidden", message: "admins only" });
  });

  it("rejects with timeout when no reply comes, and ignores the late reply", async () => {
    const c = makeConnection();
    const { messages } = record(c);
    c.connect();
    FakeWebSocket.last.accept();
    const pending = c.request({ type: "ping" }, 300);
    vi.advanceTimersByTime(300);
    await expect(pending).rejects.toMatchObject({ code: "timeout" });
    FakeWebSocket.last.receive({ type: "pong", id: "1", payload: { serverTime: 1 } });
    expect(messages.map((m) => m.type)).toEqual(["hello"]);
  });

  it("queues requests made while connecting and sends them, in order, on open", async () => {
    const c = makeConnection();
    c.connect();
    const socket = FakeWebSocket.last;
    const a = c.rpc<{ total: number }>("connections.list");
    c.send({ type: "ping" });
    expect(socket.sent).toEqual([]);
    socket.open();
    expect(socket.frames.map((f) => [f.type, f.id])).toEqual([
      ["rpc", "1"],
      ["ping", "2"],
    ]);
    socket.receive({ type: "rpc_result", id: "1", payload: { result: { total: 3 } } });
    await expect(a).resolves.toEqual({ total: 3 });
  });

  it("keeps requests queued across a failed attempt and sends them when a socket opens", async () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.serverClose(1006);
    const pending = c.request({ type: "ping" }, 5_000);
    vi.advanceTimersByTime(250);
    FakeWebSocket.last.open();
    expect(FakeWebSocket.last.framesOf("ping")).toHaveLength(1);
    FakeWebSocket.last.receive({ type: "pong", id: "1", payload: { serverTime: 9 } });
    await expect(pending).resolves.toEqual({ serverTime: 9 });
  });

  it("fails requests already sent when the socket drops", async () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.accept();
    const pending = c.request({ type: "ping" });
    FakeWebSocket.last.serverClose(1006);
    await expect(pending).rejects.toMatchObject({ code: "disconnected" });
  });
});

describe("subscriptions", () => {
  it("re-subscribes to every topic after each reconnect, and leaves with unsubscribe", () => {
    const c = makeConnection();
    c.connect();
    const leave = c.subscribe("admin:connections");
    c.subscribe("document:d_1");
    FakeWebSocket.last.accept();
    const topics = (s: FakeWebSocket) => s.framesOf("subscribe").map((f) => f.payload.topic);
    expect(topics(FakeWebSocket.last)).toEqual(["admin:connections", "document:d_1"]);
    FakeWebSocket.last.serverClose(1001);
    vi.runOnlyPendingTimers();
    FakeWebSocket.last.accept();
    expect(topics(FakeWebSocket.last)).toEqual(["admin:connections", "document:d_1"]);
    leave();
    expect(FakeWebSocket.last.framesOf("unsubscribe").map((f) => f.payload.topic)).toEqual(["admin:connections"]);
    FakeWebSocket.last.serverClose(4408);
    vi.runOnlyPendingTimers();
    FakeWebSocket.last.accept();
    expect(topics(FakeWebSocket.last)).toEqual(["document:d_1"]);
  });

  it("counts subscribers: the topic is left only when the last one leaves", () => {
    const c = makeConnection();
    c.connect();
    FakeWebSocket.last.accept();
    const a = c.subscribe("admin:connections");
    const b = c.subscribe("admin:connections");
    expect(FakeWebSocket.last.framesOf("subscribe")).toHaveLength(1);
    a();
    a();
    expect(FakeWebSocket.last.framesOf("unsubscribe")).toHaveLength(0);
    b();
    expect(FakeWebSocket.last.framesOf("unsubscribe")).toHaveLength(1);
  });

  it("reports a refused subscription", () => {
    const c = makeConnection();
    const errors: string[] = [];
    c.on("subscription_error", ({ topic, error }) => errors.push(`${topic}: ${error.code}`));
    c.connect();
    FakeWebSocket.last.accept();
    c.subscribe("admin:connections");
    const [frame] = FakeWebSocket.last.framesOf("subscribe");
    FakeWebSocket.last.receive({ type: "error", id: frame.id, payload: { code: "forbidden", message: "no" } });
    expect(errors).toEqual(["admin:connections: forbidden"]);
  });
});

describe("heartbeat", () => {
  it("pings after 2 × heartbeatInterval + 5 s of silence and reconnects if nothing answers in 5 s", () => {
    const c = makeConnection();
    c.connect();
    const socket = FakeWebSocket.last;
    socket.accept({}, 10);
    vi.advanceTimersByTime(24_999);
    expect(socket.framesOf("ping")).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(socket.framesOf("ping")).toHaveLength(1);
    vi.advanceTimersByTime(4_999);
    expect(c.state).toBe("open");
    vi.advanceTimersByTime(1);
    expect(socket.closedWith).toEqual({ code: 4000, reason: "heartbeat timeout" });
    expect(c.state).toBe("reconnecting");
  });

  it("any frame counts as an answer", () => {
    const c = makeConnection();
    c.connect();
    const socket = FakeWebSocket.last;
    socket.accept({}, 10);
    vi.advanceTimersByTime(25_000);
    const [ping] = socket.framesOf("ping");
    vi.advanceTimersByTime(2_000);
    socket.receive({ type: "pong", id: ping.id, payload: { serverTime: 1 } });
    vi.advanceTimersByTime(10_000);
    expect(c.state).toBe("open");
    expect(socket.closedWith).toBeNull();
  });

  it("frames arriving regularly keep the socket from being pinged", () => {
    const c = makeConnection();
    c.connect();
    const socket = FakeWebSocket.last;
    socket.accept({ all: { epoch: "a", seq: 0 } }, 10);
    for (let seq = 1; seq <= 10; seq++) {
      vi.advanceTimersByTime(20_000);
      socket.receive(note("all", seq));
    }
    expect(socket.framesOf("ping")).toHaveLength(0);
  });
});

describe("stream resume", () => {
  it("after a reconnect, resumes from the last position, buffers until the ack and delivers in order once", () => {
    const c = makeConnection();
    const { messages } = record(c);
    c.connect();
    FakeWebSocket.last.accept({ "user:1": { epoch: "e1", seq: 5 }, all: { epoch: "a", seq: 0 } });
    FakeWebSocket.last.receive(note("user:1", 6));
    FakeWebSocket.last.serverClose(1001);
    vi.runOnlyPendingTimers();
    const socket = FakeWebSocket.last;
    socket.accept({ "user:1": { epoch: "e1", seq: 9 }, all: { epoch: "a", seq: 0 } });
    const [resume] = socket.framesOf("resume");
    expect(resume.payload).toEqual({ streams: { "user:1": { epoch: "e1", seq: 6 } } });
    socket.receive(note("user:1", 10)); // live, overtaking the replay
    socket.receive(note("user:1", 6)); // duplicate
    socket.receive(note("user:1", 7));
    socket.receive(note("user:1", 8));
    socket.receive(note("user:1", 9));
    socket.receive(note("user:1", 10)); // duplicate of the live one
    expect(seqsOf(messages)).toEqual([6]);
    socket.receive({ type: "ack", id: resume.id, payload: {} });
    expect(seqsOf(messages)).toEqual([6, 7, 8, 9, 10]);
    socket.receive(note("user:1", 11));
    socket.receive(note("user:1", 11));
    expect(seqsOf(messages)).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it("on a gap in live events, buffers and resumes that stream", () => {
    const c = makeConnection();
    const { messages } = record(c);
    c.connect();
    const socket = FakeWebSocket.last;
    socket.accept({ all: { epoch: "a", seq: 12 } });
    socket.receive(note("all", 13));
    socket.receive(note("all", 15));
    const [resume] = socket.framesOf("resume");
    expect(resume.payload).toEqual({ streams: { all: { epoch: "a", seq: 13 } } });
    socket.receive(note("all", 14));
    socket.receive(note("all", 15));
    socket.receive({ type: "ack", id: resume.id, payload: {} });
    expect(seqsOf(messages)).toEqual([13, 14, 15]);
  });

  it("calls the resync handlers when the epoch changed, and adopts the new position", () => {
    const c = makeConnection();
    const { messages } = record(c);
    const resynced: string[] = [];
    c.onResync("user", (stream) => resynced.push(`user-prefix ${stream}`));
    c.onResync("user:1", (stream) => resynced.push(`exact ${stream}`));
    c.onResync("all", (stream) => resynced.push(`all ${stream}`));
    c.connect();
    FakeWebSocket.last.accept({ "user:1": { epoch: "e1", seq: 5 } });
    FakeWebSocket.last.serverClose(1001);
    vi.runOnlyPendingTimers();
    FakeWebSocket.last.accept({ "user:1": { epoch: "e2", seq: 2 } });
    expect(resynced).toEqual(["user-prefix user:1", "exact user:1"]);
    expect(FakeWebSocket.last.framesOf("resume")).toHaveLength(0);
    FakeWebSocket.last.receive(note("user:1", 3));
    expect(seqsOf(messages)).toEqual([3]);
  });

  it("on resync_required, calls the handlers and continues from the given position", () => {
    const c = makeConnection();
    const { messages } = record(c);
    const resynced: string[] = [];
    c.onResync("user:1", (stream) => resynced.push(stream));
    c.connect();
    FakeWebSocket.last.accept({ "user:1": { epoch: "e1", seq: 5 } });
    FakeWebSocket.last.serverClose(1006);
    vi.runOnlyPendingTimers();
    const socket = FakeWebSocket.last;
    socket.accept({ "user:1": { epoch: "e1", seq: 40 } });
    const [resume] = socket.framesOf("resume");
    socket.receive({ type: "resync_required", payload: { stream: "user:1", epoch: "e1", seq: 40 } });
    socket.receive({ type: "ack", id: resume.id, payload: {} });
    expect(resynced).toEqual(["user:1"]);
    socket.receive(note("user:1", 41));
    expect(seqsOf(messages)).toEqual([41]);
  });

  it("refetches when the resume request fails", () => {
    const c = makeConnection();
    const resynced: string[] = [];
    c.onResync("all", (stream) => resynced.push(stream));
    c.connect();
    const socket = FakeWebSocket.last;
    socket.accept({ all: { epoch: "a", seq: 1 } });
    socket.receive(note("all", 3));
    vi.advanceTimersByTime(1_000);
    expect(resynced).toEqual(["all"]);
  });

  it("passes events without a stream straight through", () => {
    const c = makeConnection();
    const { messages } = record(c);
    c.connect();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.receive({ type: "notification", payload: { message: "x" } });
    FakeWebSocket.last.receive({ type: "notification", payload: { message: "x" } });
    expect(messages.map((m) => m.type)).toEqual(["hello", "notification", "notification"]);
  });

  it("ignores frames that are not JSON objects with a type", () => {
    const c = makeConnection();
    const { messages } = record(c);
    c.connect();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.onmessage?.(new MessageEvent("message", { data: "not json" }));
    FakeWebSocket.last.onmessage?.(new MessageEvent("message", { data: "[1]" }));
    FakeWebSocket.last.receive({ payload: {} });
    expect(messages.map((m) => m.type)).toEqual(["hello"]);
  });
});
