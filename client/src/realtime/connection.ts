/**
 * One WebSocket to the server, kept alive: state machine, reconnect with backoff, request
 * correlation, topic subscriptions, heartbeat and stream resume. No React here.
 *
 * The socket is created through an injectable constructor so tests drive a fake one.
 */

import { DEFAULT_BACKOFF } from "./backoff";
import { BrowserCloseCode, closePolicy } from "./closePolicy";
import type { ConnectionEvents, ConnectionOptions } from "./connectionTypes";
import { Emitter } from "./emitter";
import { browserEnvironment, type ConnectionEnvironment } from "./environment";
import { Heartbeat } from "./heartbeat";
import { IncomingFrames } from "./incoming";
import type { ClientFrame, HelloPayload } from "./protocol.gen";
import { Reconnector } from "./reconnect";
import { PendingRequests, type ReplyHandlers, type ReplyPayload, RequestError } from "./requests";
import type { ResyncHandler } from "./resync";
import { SocketSlot } from "./socketSlot";
import { type ConnectionState, isStopped, StateMachine, type TransitionDetail } from "./state";
import { TopicSubscriptions } from "./topics";

const DEFAULT_HEARTBEAT_SECONDS = 25;

/** A resilient, authenticated WebSocket to the server: one per tab. */
export class Connection {
  private readonly emitter = new Emitter<ConnectionEvents>();
  private readonly url: string | (() => string);
  private readonly requestTimeoutMs: number;
  private readonly env: ConnectionEnvironment;
  private readonly requests = new PendingRequests();
  private readonly topics: TopicSubscriptions;
  private readonly incoming: IncomingFrames;
  private readonly heartbeat: Heartbeat;
  private readonly socket: SocketSlot;
  private readonly reconnect: Reconnector;
  private readonly machine = new StateMachine();

  constructor(options: ConnectionOptions) {
    this.url = options.url;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.socket = new SocketSlot(options.WebSocket ?? WebSocket);
    this.env = options.environment ?? browserEnvironment();
    this.reconnect = new Reconnector(options.backoff ?? DEFAULT_BACKOFF, this.env, {
      state: () => this.machine.state,
      setState: (newState, detail) => this.setState(newState, detail),
      openSocket: () => this.openSocket(),
    });
    this.heartbeat = new Heartbeat(
      () => this.sendPing(),
      () => this.abandonSocket("heartbeat timeout"),
    );
    this.incoming = new IncomingFrames(this.requests, {
      deliver: (frame) => this.emitter.emit("message", frame),
      request: (frame, handlers) => this.requestWith(frame, this.requestTimeoutMs, handlers),
      greeted: (hello) => {
        // The server accepted the socket: a later loss starts the backoff afresh, and silence is
        // measured against the server's heartbeat interval from now on.
        this.reconnect.reset();
        this.heartbeat.start(hello.heartbeatInterval || DEFAULT_HEARTBEAT_SECONDS);
      },
    });
    this.topics = new TopicSubscriptions({
      isOpen: () => this.machine.state === "open",
      request: (frame, handlers) => this.requestWith(frame, this.requestTimeoutMs, handlers),
      joined: (topic, ack) => {
        this.incoming.onSubscribeAck(ack.payload);
        this.emitter.emit("subscribed", { topic });
      },
      refused: (topic, error) => this.emitter.emit("subscription_error", { topic, error }),
    });
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.machine.state;
  }

  /** When the next attempt starts (ms since the epoch), while `reconnecting`; else null. */
  get retryAt(): number | null {
    return this.machine.retryAt;
  }

  /** The payload of the last `hello` (connection id, user, streams). */
  get hello(): HelloPayload | null {
    return this.incoming.hello;
  }

  /** Listen to one of the connection's events; returns the removal. */
  on<K extends keyof ConnectionEvents>(name: K, listener: (value: ConnectionEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /** Start connecting (after sign-in). Does nothing if already connected or trying. */
  connect(): void {
    if (!this.isStopped()) return;
    this.reconnect.start();
    if (!this.env.isOnline()) {
      this.setState("offline", { reason: "browser offline" });
      return;
    }
    this.openSocket();
  }

  /**
   * Close and stop (sign-out). Pending requests fail with `closed`; stream positions are
   * forgotten. A `closed_auth` or `closed_forbidden` state is kept, since it says why.
   */
  disconnect(): void {
    this.reconnect.stop();
    this.heartbeat.stop();
    this.socket.drop(BrowserCloseCode.Normal, "client disconnect");
    this.requests.failAll("closed", "connection closed");
    this.incoming.forget();
    if (!this.isStopped()) this.setState("idle", { reason: "disconnected" });
  }

  /**
   * Send a frame without waiting for a reply. Queued while (re)connecting, and dropped if no
   * socket opens within the request timeout.
   *
   * Returns:
   *   false if the connection is stopped and the frame was dropped.
   */
  send(frame: ClientFrame): boolean {
    if (this.machine.state === "open" && this.socket.send(JSON.stringify(frame))) return true;
    if (this.isStopped()) return false;
    // Through the request table so it is flushed in order with the other queued requests.
    this.requests.add(frame, this.requestTimeoutMs, { resolve: () => {}, reject: () => {} });
    return true;
  }

  /**
   * Send a request and wait for its reply (`ack`, `rpc_result` or `pong`).
   *
   * Requests made while (re)connecting are queued and sent on open.
   *
   * Raises:
   *   RequestError: `error` frame (its code), `timeout`, `disconnected` (socket lost after
   *   sending) or `closed` (connection stopped).
   */
  request<F extends ClientFrame>(frame: F, timeoutMs = this.requestTimeoutMs): Promise<ReplyPayload<F>> {
    return new Promise((resolve, reject) => {
      this.requestWith(frame, timeoutMs, {
        resolve: (reply) => resolve(reply.payload as ReplyPayload<F>),
        reject,
      });
    });
  }

  /** Call an RPC method and return its result. */
  async rpc<T = unknown>(method: string, params: Record<string, unknown> = {}, timeoutMs?: number): Promise<T> {
    const payload = await this.request({ type: "rpc", payload: { method, params } }, timeoutMs);
    return payload.result as T;
  }

  /**
   * Join `topic` now and after every reconnect, until the returned function is called.
   * Counted: the topic is left when the last subscriber leaves.
   */
  subscribe(topic: string): () => void {
    return this.topics.follow(topic);
  }

  /** The topics currently joined (or to be joined on open). */
  get subscribedTopics(): string[] {
    return this.topics.names;
  }

  /**
   * Call `handler` when a stream's state must be refetched. `stream` is a stream name
   * (`user:7`) or a prefix ending before a colon (`user`, `topic:document`).
   */
  onResync(stream: string, handler: ResyncHandler): () => void {
    return this.incoming.onResync(stream, handler);
  }

  // --- state ------------------------------------------------------------------------

  private setState(newState: ConnectionState, detail: TransitionDetail): void {
    this.emitter.emit("state", this.machine.move(newState, detail));
  }

  private isStopped(): boolean {
    return isStopped(this.machine.state);
  }

  // --- socket -----------------------------------------------------------------------

  private openSocket(): void {
    this.reconnect.cancelPending();
    const attempt = this.reconnect.attempts;
    this.setState("connecting", { reason: attempt === 0 ? "connecting" : `attempt ${attempt + 1}` });
    this.socket.open(typeof this.url === "function" ? this.url() : this.url, {
      open: () => this.handleOpen(),
      data: (data) => this.handleData(data),
      close: (code, reason) => this.handleClose(code, reason),
    });
  }

  private handleOpen(): void {
    this.setState("open", { reason: "open" });
    this.heartbeat.start(DEFAULT_HEARTBEAT_SECONDS);
    this.topics.rejoinAll();
    for (const frame of this.requests.unsent()) this.write(frame);
  }

  private handleClose(code: number, reason: string): void {
    const wasOpen = this.socket.wasOpened;
    this.socket.detach();
    this.heartbeat.stop();
    this.incoming.onDisconnect();
    this.requests.failSent("disconnected", `connection lost (${code})`);
    this.emitter.emit("close", { code, reason, wasOpen });
    if (this.isStopped()) return; // a listener of `close` disconnected us
    const policy = closePolicy(code);
    if (policy.action === "stop") {
      this.requests.failAll("closed", policy.why);
      this.setState(policy.state, { reason: policy.why, closeCode: code });
      return;
    }
    this.reconnect.schedule(policy.floorMs, code, policy.why);
  }

  /** Give up on a socket that no longer answers, without waiting for the browser's close. */
  private abandonSocket(reason: string): void {
    this.socket.drop(4000, reason);
    this.handleClose(BrowserCloseCode.Abnormal, reason);
  }

  private write(frame: ClientFrame & { id: string }): void {
    if (!this.socket.present) return;
    this.requests.markSent(frame.id);
    this.socket.send(JSON.stringify(frame));
  }

  private requestWith(frame: ClientFrame, timeoutMs: number, handlers: ReplyHandlers): void {
    if (this.isStopped()) {
      handlers.reject(new RequestError("closed", `${frame.type}: not connected`));
      return;
    }
    const withId = this.requests.add(frame, timeoutMs, handlers);
    if (this.machine.state === "open") this.write(withId);
  }

  // --- heartbeat --------------------------------------------------------------------

  private sendPing(): void {
    if (!this.socket.present || this.machine.state !== "open") return;
    // Any frame (the pong or anything else) counts as an answer, so the reply itself is not needed.
    this.requestWith({ type: "ping" }, 2 * 5_000, { resolve: () => {}, reject: () => {} });
  }

  // --- incoming frames --------------------------------------------------------------

  private handleData(data: unknown): void {
    this.heartbeat.beat(); // any frame, reply or not, shows the socket is alive
    this.incoming.receive(data);
  }
}
