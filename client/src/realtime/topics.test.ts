// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { ClientFrame } from "./protocol.gen";
import { type ReplyHandlers, RequestError } from "./requests";
import { TopicSubscriptions } from "./topics";

function setup() {
  const state = { open: false };
  const sent: Array<{ frame: ClientFrame; handlers: ReplyHandlers }> = [];
  const events: string[] = [];
  const topics = new TopicSubscriptions({
    isOpen: () => state.open,
    request: (frame, handlers) => sent.push({ frame, handlers }),
    joined: (topic, ack) => events.push(`joined ${topic} ${JSON.stringify(ack.payload)}`),
    refused: (topic, error) => events.push(`refused ${topic} ${error.code}`),
  });
  const topicOf = (frame: ClientFrame) => (frame as { payload?: { topic?: string } }).payload?.topic;
  const framesSent = () => sent.map(({ frame }) => `${frame.type} ${topicOf(frame)}`);
  return { state, sent, events, topics, framesSent };
}

describe("TopicSubscriptions", () => {
  it("joins a topic once for all its followers and leaves it when the last one stops", () => {
    const { state, topics, framesSent } = setup();
    state.open = true;
    const a = topics.follow("doc:1");
    const b = topics.follow("doc:1");
    a();
    a(); // a second call does not count as another follower leaving
    expect(framesSent()).toEqual(["subscribe doc:1"]);
    expect(topics.names).toEqual(["doc:1"]);
    b();
    expect(framesSent()).toEqual(["subscribe doc:1", "unsubscribe doc:1"]);
    expect(topics.names).toEqual([]);
  });

  it("waits for a socket to join, and joins every followed topic again on each open", () => {
    const { state, topics, framesSent } = setup();
    topics.follow("a");
    topics.follow("b")();
    topics.follow("c");
    expect(framesSent()).toEqual([]);
    state.open = true;
    topics.rejoinAll();
    topics.rejoinAll();
    expect(framesSent()).toEqual(["subscribe a", "subscribe c", "subscribe a", "subscribe c"]);
  });

  it("reports the ack, and a refusal but not a join lost with its socket", () => {
    const { state, sent, events, topics } = setup();
    state.open = true;
    topics.follow("a");
    topics.follow("b");
    topics.follow("c");
    sent[0].handlers.resolve({ type: "ack", id: "1", payload: { stream: "topic:a", epoch: "e", seq: 3 } });
    sent[1].handlers.reject(new RequestError("forbidden", "no"));
    sent[2].handlers.reject(new RequestError("disconnected", "lost"));
    expect(events).toEqual(['joined a {"stream":"topic:a","epoch":"e","seq":3}', "refused b forbidden"]);
  });
});
