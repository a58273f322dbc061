/**
 * Topic subscriptions: several components may follow one topic, and the server is told to
 * leave it only when the last of them stops. A new socket starts with no topics, so every
 * followed topic is joined again on each open.
 */

import type { ClientFrame } from "./protocol.gen";
import type { ReplyFrame, ReplyHandlers, RequestError } from "./requests";

/** Counts the subscribers of each topic. */
export class TopicCounter {
  private readonly counts = new Map<string, number>();

  /** Count one more subscriber; true when it is the first (the topic must be joined). */
  join(topic: string): boolean {
    const count = this.counts.get(topic) ?? 0;
    this.counts.set(topic, count + 1);
    return count === 0;
  }

  /** Count one subscriber less; true when it was the last (the topic must be left). */
  leave(topic: string): boolean {
    const left = (this.counts.get(topic) ?? 1) - 1;
    if (left > 0) {
      this.counts.set(topic, left);
      return false;
    }
    this.counts.delete(topic);
    return true;
  }

  /** The topics with at least one subscriber. */
  get names(): string[] {
    return [...this.counts.keys()];
  }
}

/** What the topic subscriptions need from their connection. */
export interface TopicHost {
  /** Whether a socket is open (else joins wait for {@link TopicSubscriptions.rejoinAll}). */
  isOpen(): boolean;
  /** Send a request with the connection's default timeout. */
  request(frame: ClientFrame, handlers: ReplyHandlers): void;
  /** The server acknowledged joining `topic`: its events flow from here. */
  joined(topic: string, ack: ReplyFrame): void;
  /** The server refused `topic` (not for a socket lost or a connection stopped meanwhile). */
  refused(topic: string, error: RequestError): void;
}

/** Joins and leaves topics on the server for the components that follow them. */
export class TopicSubscriptions {
  private readonly counter = new TopicCounter();
  private readonly host: TopicHost;

  constructor(host: TopicHost) {
    this.host = host;
  }

  /** Follow `topic` until the returned function is called (calling it again does nothing). */
  follow(topic: string): () => void {
    if (this.counter.join(topic) && this.host.isOpen()) this.join(topic);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (this.counter.leave(topic) && this.host.isOpen()) {
        this.host.request({ type: "unsubscribe", payload: { topic } }, { resolve: () => {}, reject: () => {} });
      }
    };
  }

  /** The topics followed, joined or to be joined on open. */
  get names(): string[] {
    return this.counter.names;
  }

  /** A socket opened: join every followed topic on it. */
  rejoinAll(): void {
    for (const topic of this.counter.names) this.join(topic);
  }

  private join(topic: string): void {
    this.host.request(
      { type: "subscribe", payload: { topic } },
      {
        resolve: (ack) => this.host.joined(topic, ack),
        reject: (error) => {
          if (error.code !== "disconnected" && error.code !== "closed") this.host.refused(topic, error);
        },
      },
    );
  }
}
