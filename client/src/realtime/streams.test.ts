// @vitest-environment node
import { describe, expect, it } from "vitest";
import { type StreamEvent, StreamTracker } from "./streams";

function note(stream: string, seq: number): StreamEvent {
  return {
    type: "notification",
    payload: { id: seq, message: `m${seq}`, from: "admin", createdAt: "2024-11-26T00:00:00Z", level: "info" },
    stream,
    seq,
  };
}

const seqs = (events: StreamEvent[]) => events.map((e) => e.seq);

describe("StreamTracker.onHello", () => {
  it("adopts the position of streams it has never seen", () => {
    const t = new StreamTracker();
    const actions = t.onHello({ "user:1": { epoch: "e1", seq: 0 }, all: { epoch: "a", seq: 12 } });
    expect(actions).toEqual({ deliver: [], resume: null, resync: [] });
    expect(t.position("all")).toEqual({ epoch: "a", seq: 12 });
  });

  it("asks for a resume of a stream whose seq moved on in the same epoch, and buffers it", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 }, all: { epoch: "a", seq: 3 } });
    t.onDisconnect();
    const actions = t.onHello({ "user:7": { epoch: "e1", seq: 21 }, all: { epoch: "a", seq: 3 } });
    expect(actions.resume).toEqual({ "user:7": { epoch: "e1", seq: 18 } });
    expect(actions.resync).toEqual([]);
    expect(t.isBuffering("user:7")).toBe(true);
    expect(t.isBuffering("all")).toBe(false);
  });

  it("asks for a resync of a stream whose epoch changed and adopts the new position", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    const actions = t.onHello({ "user:7": { epoch: "e2", seq: 4 } });
    expect(actions).toEqual({ deliver: [], resume: null, resync: ["user:7"] });
    expect(t.position("user:7")).toEqual({ epoch: "e2", seq: 4 });
  });

  it("learns the epoch of a stream first known from its events", () => {
    const t = new StreamTracker();
    t.onEvent(note("topic:admin:connections", 5));
    expect(t.position("topic:admin:connections")).toEqual({ epoch: null, seq: 5 });
    const actions = t.onPosition("topic:admin:connections", { epoch: "t1", seq: 7 });
    expect(actions.resume).toEqual({ "topic:admin:connections": { epoch: "t1", seq: 5 } });
  });
});

describe("StreamTracker.onEvent", () => {
  it("delivers consecutive events and drops duplicates", () => {
    const t = new StreamTracker();
    t.onHello({ all: { epoch: "a", seq: 12 } });
    expect(seqs(t.onEvent(note("all", 13)).deliver)).toEqual([13]);
    expect(seqs(t.onEvent(note("all", 13)).deliver)).toEqual([]);
    expect(seqs(t.onEvent(note("all", 12)).deliver)).toEqual([]);
    expect(seqs(t.onEvent(note("all", 14)).deliver)).toEqual([14]);
  });

  it("starts a stream it has never seen at the first event's seq", () => {
    const t = new StreamTracker();
    expect(seqs(t.onEvent(note("topic:x:1", 40)).deliver)).toEqual([40]);
    expect(seqs(t.onEvent(note("topic:x:1", 41)).deliver)).toEqual([41]);
  });

  it("buffers on a gap and asks to resume from the last delivered seq", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    const actions = t.onEvent(note("user:7", 21));
    expect(actions.deliver).toEqual([]);
    expect(actions.resume).toEqual({ "user:7": { epoch: "e1", seq: 18 } });
    // More live events while the resume is outstanding are buffered, not resumed again.
    const more = t.onEvent(note("user:7", 22));
    expect(more).toEqual({ deliver: [], resume: null, resync: [] });
  });

  it("on a gap in a stream without a known epoch, delivers and asks for a resync", () => {
    const t = new StreamTracker();
    t.onEvent(note("topic:x:1", 1));
    const actions = t.onEvent(note("topic:x:1", 5));
    expect(seqs(actions.deliver)).toEqual([5]);
    expect(actions.resync).toEqual(["topic:x:1"]);
    expect(actions.resume).toBeNull();
  });

  it("leaves other streams flowing while one is buffered", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 }, all: { epoch: "a", seq: 0 } });
    t.onEvent(note("user:7", 20));
    expect(seqs(t.onEvent(note("all", 1)).deliver)).toEqual([1]);
  });
});

describe("StreamTracker.onResumeDone", () => {
  it("delivers replayed and live events in seq order, without duplicates", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    t.onDisconnect();
    t.onHello({ "user:7": { epoch: "e1", seq: 22 } });
    // A live event overtakes the replay; the replay repeats it; an old duplicate arrives too.
    for (const seq of [22, 19, 20, 18, 21, 22]) t.onEvent(note("user:7", seq));
    const actions = t.onResumeDone(["user:7"]);
    expect(seqs(actions.deliver)).toEqual([19, 20, 21, 22]);
    expect(actions.resync).toEqual([]);
    expect(t.isBuffering("user:7")).toBe(false);
    expect(t.position("user:7")).toEqual({ epoch: "e1", seq: 22 });
    expect(seqs(t.onEvent(note("user:7", 23)).deliver)).toEqual([23]);
  });

  it("asks for a resync when the replay left a gap", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    t.onEvent(note("user:7", 21));
    t.onEvent(note("user:7", 19));
    const actions = t.onResumeDone(["user:7"]);
    expect(seqs(actions.deliver)).toEqual([19, 21]);
    expect(actions.resync).toEqual(["user:7"]);
  });

  it("ignores streams that are not buffered", () => {
    const t = new StreamTracker();
    t.onHello({ all: { epoch: "a", seq: 0 } });
    expect(t.onResumeDone(["all", "user:9"])).toEqual({ deliver: [], resume: null, resync: [] });
  });
});

describe("StreamTracker.onResumeFailed", () => {
  it("releases the buffer and asks for a resync", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    t.onEvent(note("user:7", 20));
    const actions = t.onResumeFailed(["user:7"]);
    expect(seqs(actions.deliver)).toEqual([20]);
    expect(actions.resync).toEqual(["user:7"]);
    expect(t.isBuffering("user:7")).toBe(false);
  });
});

describe("StreamTracker.onResyncRequired", () => {
  it("adopts the position, delivers newer buffered events and asks for a resync", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    t.onDisconnect();
    t.onHello({ "user:7": { epoch: "e1", seq: 41 } });
    t.onEvent(note("user:7", 40));
    t.onEvent(note("user:7", 41));
    const actions = t.onResyncRequired({
      stream: "user:7",
      epoch: "e1",
      seq: 40,
      reason: "history does not reach back",
    });
    expect(seqs(actions.deliver)).toEqual([41]);
    expect(actions.resync).toEqual(["user:7"]);
    expect(t.position("user:7")).toEqual({ epoch: "e1", seq: 41 });
    // The ack that follows changes nothing.
    expect(t.onResumeDone(["user:7"]).deliver).toEqual([]);
  });

  it("adopts a stream it did not know", () => {
    const t = new StreamTracker();
    const actions = t.onResyncRequired({ stream: "user:3", epoch: "z", seq: 9, reason: "epoch changed" });
    expect(actions.resync).toEqual(["user:3"]);
    expect(t.position("user:3")).toEqual({ epoch: "z", seq: 9 });
  });
});

describe("StreamTracker.onDisconnect", () => {
  it("drops buffers but keeps positions", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 18 } });
    t.onEvent(note("user:7", 20));
    t.onDisconnect();
    expect(t.isBuffering("user:7")).toBe(false);
    expect(t.position("user:7")).toEqual({ epoch: "e1", seq: 18 });
  });
});

describe("StreamTracker.onSkipped", () => {
  it("treats skipped seqs as seen, so the next event is no gap", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 3 } });
    t.onSkipped({ stream: "user:7", seqs: [4, 5, 7] });
    expect(seqs(t.onEvent(note("user:7", 6)).deliver)).toEqual([6]);
    const actions = t.onEvent(note("user:7", 8));
    expect(seqs(actions.deliver)).toEqual([8]);
    expect(actions.resume).toBeNull();
    expect(t.position("user:7")).toEqual({ epoch: "e1", seq: 8 });
  });

  it("forgets skipped seqs when a hello brings a new epoch", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 3 } });
    t.onSkipped({ stream: "user:7", seqs: [5] });
    t.onDisconnect(); // seq 4 never came
    expect(t.onHello({ "user:7": { epoch: "e2", seq: 4 } }).resync).toEqual(["user:7"]);
    const actions = t.onEvent(note("user:7", 5));
    expect(seqs(actions.deliver)).toEqual([5]);
    expect(t.position("user:7")).toEqual({ epoch: "e2", seq: 5 });
  });

  it("forgets skipped seqs and buffered events when a resync brings a new epoch", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 3 } });
    t.onSkipped({ stream: "user:7", seqs: [5] });
    t.onEvent(note("user:7", 7)); // a gap: buffered while a resume is outstanding
    const resync = t.onResyncRequired({ stream: "user:7", epoch: "e2", seq: 4, reason: "epoch changed" });
    expect(resync.deliver).toEqual([]);
    expect(seqs(t.onEvent(note("user:7", 5)).deliver)).toEqual([5]);
    expect(t.position("user:7")).toEqual({ epoch: "e2", seq: 5 });
  });

  it("still sees a real gap beyond the skipped seqs", () => {
    const t = new StreamTracker();
    t.onHello({ "user:7": { epoch: "e1", seq: 3 } });
    t.onSkipped({ stream: "user:7", seqs: [4] });
    const actions = t.onEvent(note("user:7", 6));
    expect(actions.deliver).toEqual([]);
    expect(actions.resume).toEqual({ "user:7": { epoch: "e1", seq: 4 } });
  });
});
