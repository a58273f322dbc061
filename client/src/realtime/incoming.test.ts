// @vitest-environment node
import { describe, expect, it } from "vitest";
import { IncomingFrames } from "./incoming";
import type { ClientFrame, ServerFrame, StreamPosition } from "./protocol.gen";
import { PendingRequests, type ReplyHandlers, RequestError } from "./requests";

function setup() {
  const requests = new PendingRequests();
  const log: string[] = [];
  const delivered: ServerFrame[] = [];
  const sent: Array<{ frame: ClientFrame; handlers: ReplyHandlers }> = [];
  const incoming = new IncomingFrames(requests, {
    deliver: (frame) => {
      log.push(`deliver ${frame.type}`);
      delivered.push(frame);
    },
    request: (frame, handlers) => sent.push({ frame, handlers }),
    greeted: (hello) => log.push(`greeted ${hello.connectionId}`),
  });
  const receive = (frame: object) => incoming.receive(JSON.stringify(frame));
  return { requests, incoming, log, delivered, sent, receive };
}

function hello(streams: Record<string, StreamPosition>) {
  const user = { id: 1, username: "admin", role: "admin" };
  return { type: "hello", payload: { connectionId: "c_1", user, heartbeatInterval: 25, serverTime: 0, streams } };
}

function note(stream: string, seq: number) {
  const payload = { message: `m${seq}`, from: "admin", createdAt: "2024-11-26T00:00:00Z", level: "info" };
  return { type: "notification", payload, stream, seq };
}

const seqsOf = (frames: ServerFrame[]) => frames.flatMap((f) => ("seq" in f && f.seq != null ? [f.seq] : []));

describe("IncomingFrames", () => {
  it("settles the request a reply answers; a late reply is dropped, a late error delivered", () => {
    const { requests, delivered, receive } = setup();
    const settled: string[] = [];
    requests.add({ type: "ping" }, 1_000, { resolve: (f) => settled.push(f.type), reject: () => {} });
    receive({ type: "pong", id: "1", payload: {} });
    receive({ type: "ack", id: "9" });
    expect(settled).toEqual(["pong"]);
    expect(delivered).toEqual([]);
    receive({ type: "error", id: "9", payload: { code: "invalid", message: "late" } });
    expect(delivered.map((f) => f.type)).toEqual(["error"]);
  });

  it("greets before delivering the hello, then resumes a stream that moved on and releases it in order", () => {
    const { incoming, log, delivered, sent, receive } = setup();
    receive(hello({ "user:1": { epoch: "e", seq: 2 } }));
    expect(log).toEqual(["greeted c_1", "deliver hello"]);
    expect(incoming.hello?.connectionId).toBe("c_1");
    receive(note("user:1", 3));
    incoming.onDisconnect();
    receive(hello({ "user:1": { epoch: "e", seq: 5 } }));
    expect(sent.map((s) => s.frame)).toEqual([
      { type: "resume", payload: { streams: { "user:1": { epoch: "e", seq: 3 } } } },
    ]);
    receive(note("user:1", 5));
    receive(note("user:1", 4));
    expect(seqsOf(delivered)).toEqual([3]);
    sent[0].handlers.resolve({ type: "ack", id: "1" });
    expect(seqsOf(delivered)).toEqual([3, 4, 5]);
  });

  it("runs the resync handlers on resync_required, and when a resume fails", () => {
    const { incoming, delivered, sent, receive } = setup();
    const resynced: string[] = [];
    incoming.onResync("user", (stream) => resynced.push(stream));
    receive({ type: "resync_required", payload: { stream: "user:1", epoch: "e2", seq: 7, reason: "gone" } });
    expect(delivered.map((f) => f.type)).toEqual(["resync_required"]);
    expect(resynced).toEqual(["user:1"]);
    receive(note("user:1", 9));
    expect(sent).toHaveLength(1);
    sent[0].handlers.reject(new RequestError("timeout", "resume: no reply"));
    expect(resynced).toEqual(["user:1", "user:1"]);
    expect(seqsOf(delivered)).toEqual([9]);
  });

  it("reconciles with the position in a subscribe ack, and forgets everything on sign-out", () => {
    const { incoming, delivered, sent, receive } = setup();
    incoming.onSubscribeAck({ stream: "topic:t", epoch: "t", seq: 4 });
    receive(note("topic:t", 6));
    expect(sent.map((s) => s.frame.type)).toEqual(["resume"]);
    receive(hello({}));
    incoming.forget();
    expect(incoming.hello).toBeNull();
    receive(note("topic:t", 1));
    expect(seqsOf(delivered)).toEqual([1]);
  });

  it("ignores what is not a JSON object with a type", () => {
    const { incoming, delivered } = setup();
    for (const data of ["not json", "[1]", '{"payload":{}}', 42]) incoming.receive(data);
    expect(delivered).toEqual([]);
  });
});
