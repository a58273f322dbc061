/**
 * What arrives on the socket, in order: a reply settles its request; `hello`, `resync_required`,
 * `skipped` and stream events go through the stream tracker, and what it decides (deliver,
 * resume, resync) is carried out here; anything else goes to the application as it is.
 *
 * The connection keeps the socket, the heartbeat and the request table, and hands every
 * message of the socket to {@link IncomingFrames.receive}.
 */

import { isEventFrame, parseFrame, streamPositionIn } from "./frames";
import type { ClientFrame, HelloPayload, ServerFrame, StreamPosition } from "./protocol.gen";
import { isReplyFrame, type PendingRequests, type ReplyHandlers } from "./requests";
import { type ResyncHandler, ResyncHandlers } from "./resync";
import { isStreamEvent, type StreamActions, StreamTracker } from "./streams";

/** What the incoming side needs from its connection. */
export interface IncomingHost {
  /** Hand a frame to the application (the connection's `message` event). */
  deliver(frame: ServerFrame): void;
  /** Send a request with the connection's default timeout (a `resume`). */
  request(frame: ClientFrame, handlers: ReplyHandlers): void;
  /** A `hello` arrived. Runs before the hello is delivered, so its listeners see a ready connection. */
  greeted(hello: HelloPayload): void;
}

/** Routes the frames of the socket, and keeps every stream's events in order across reconnects. */
export class IncomingFrames {
  private readonly streams = new StreamTracker();
  private readonly resyncHandlers = new ResyncHandlers();
  private readonly requests: PendingRequests;
  private readonly host: IncomingHost;
  private helloPayload: HelloPayload | null = null;

  constructor(requests: PendingRequests, host: IncomingHost) {
    this.requests = requests;
    this.host = host;
  }

  /** The payload of the last `hello`, until {@link IncomingFrames.forget}. */
  get hello(): HelloPayload | null {
    return this.helloPayload;
  }

  /** Call `handler` when a stream matching `stream` (a name or prefix) must be refetched. */
  onResync(stream: string, handler: ResyncHandler): () => void {
    return this.resyncHandlers.add(stream, handler);
  }

  /** Handle one message of the socket; anything that is not a frame is ignored. */
  receive(data: unknown): void {
    const frame = parseFrame(data);
    if (!frame) return;
    if (isReplyFrame(frame) && frame.id !== undefined) {
      if (this.requests.settle(frame)) return;
      if (frame.type !== "error") return; // a reply that came after its request timed out
    }
    switch (frame.type) {
      case "hello":
        this.helloPayload = frame.payload;
        this.host.greeted(frame.payload);
        this.host.deliver(frame);
        this.apply(this.streams.onHello(frame.payload.streams));
        return;
      case "resync_required":
        this.host.deliver(frame);
        this.apply(this.streams.onResyncRequired(frame.payload));
        return;
      case "skipped":
        this.apply(this.streams.onSkipped(frame.payload));
        return;
      default:
        if (isEventFrame(frame) && isStreamEvent(frame)) {
          this.apply(this.streams.onEvent(frame));
          return;
        }
        this.host.deliver(frame);
    }
  }

  /** A subscribe ack may name the topic's stream position: reconcile with it. */
  onSubscribeAck(payload: unknown): void {
    const position = streamPositionIn(payload);
    if (position) this.apply(this.streams.onPosition(position.stream, position));
  }

  /** The socket closed: buffered events are dropped (the next hello resumes); positions stay. */
  onDisconnect(): void {
    this.streams.onDisconnect();
  }

  /** Sign-out: forget the hello and every stream position. */
  forget(): void {
    this.streams.clear();
    this.helloPayload = null;
  }

  /** Carry out what the stream tracker decided. */
  private apply(actions: StreamActions): void {
    for (const stream of actions.resync) this.resyncHandlers.run(stream);
    for (const event of actions.deliver) this.host.deliver(event);
    if (actions.resume) this.sendResume(actions.resume);
  }

  private sendResume(positions: Record<string, StreamPosition>): void {
    const names = Object.keys(positions);
    this.host.request(
      { type: "resume", payload: { streams: positions } },
      {
        resolve: () => this.apply(this.streams.onResumeDone(names)),
        reject: (error) => {
          // A lost socket drops the buffers itself; the next hello decides again.
          if (error.code !== "disconnected" && error.code !== "closed") {
            this.apply(this.streams.onResumeFailed(names));
          }
        },
      },
    );
  }
}
