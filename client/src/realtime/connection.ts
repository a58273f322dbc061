/**
 * One WebSocket to the server, kept alive: state machine, reconnect with backoff, request
 * correlation, topic subscriptions, heartbeat and stream resume. No React here.
 *
 * The socket is created through an injectable constructor so tests drive a fake one.
 */

import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from "./backoff";
import { BrowserCloseCode, closePolicy } from "./closePolicy";
import { Emitter } from "./emitter";
import { browserEnvironment, type ConnectionEnvironment, watchBrowser } from "./environment";
import { isEventFrame, parseFrame, streamPositionIn } from "./frames";
import { Heartbeat } from "./heartbeat";
import type { ClientFrame, HelloPayload, ServerFrame, StreamPosition } from "./protocol.gen";
import { isReplyFrame, PendingRequests, type ReplyFrame, type ReplyPayload, RequestError } from "./requests";
import { type ResyncHandler, ResyncHandlers } from "./resync";
import { type ConnectionState, InvalidTransitionError, type StateChange, TRANSITIONS } from "./state";
import { isStreamEvent, type StreamActions, StreamTracker } from "./streams";

/** The part of the browser's WebSocket the connection uses. */
export interface WebSocketLike {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor (the browser's, or a fake in tests). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  /** The socket URL, or a function computing it at each attempt. */
  url: string | (() => string);
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** Default timeout of {@link Connection.request}, ms. */
  requestTimeoutMs?: number;
  environment?: ConnectionEnvironment;
}

/** Why the socket closed, as emitted under `close`. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether this socket had opened (a refused upgrade closes with 1006 before opening). */
  wasOpen: boolean;
}

/** A failed topic subscription, as emitted under `subscription_error`. */
export interface SubscriptionError {
  topic: string;
  error: RequestError;
}

/** The connection's events. */
export interface ConnectionEvents {
  /** Every state change. */
  state: StateChange;
  /** Every server frame the application should see, in order: `hello`, events (deduplicated and
   * ordered per stream), `resync_required`, `error` frames without an id. Not request replies. */
  message: ServerFrame;
  /** The socket closed (before the state changes because of it). */
  close: CloseInfo;
  subscription_error: SubscriptionError;
  /** The server acknowledged a subscription (also after each reconnect): events flow from here. */
  subscribed: { topic: string };
}

const DEFAULT_HEARTBEAT_SECONDS = 25;

/** A resilient, authenticated WebSocket to the server: one per tab. */
export class Connection {
  private readonly emitter = new Emitter<ConnectionEvents>();
  private readonly options: Required<Omit<ConnectionOptions, "environment">>;
  private readonly env: ConnectionEnvironment;
  private readonly requests = new PendingRequests();
  private readonly streams = new StreamTracker();
  private readonly topics = new Map<string, number>();
  private readonly resyncHandlers = new ResyncHandlers();
  private readonly heartbeat: Heartbeat;
  private socket: WebSocketLike | null = null;
  private socketOpened = false;
  private currentState: ConnectionState = "idle";
  private currentRetryAt: number | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryFloorMs = 0;
  private attempt = 0;
  private unwatch: (() => void) | null = null;
  private helloPayload: HelloPayload | null = null;

  constructor(options: ConnectionOptions) {
    this.options = {
      url: options.url,
      WebSocket: options.WebSocket ?? WebSocket,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    };
    this.env = options.environment ?? browserEnvironment();
    this.heartbeat = new Heartbeat(
      () => this.sendPing(),
      () => this.abandonSocket("heartbeat timeout"),
    );
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** When the next attempt starts (ms since the epoch), while `reconnecting`; else null. */
  get retryAt(): number | null {
    return this.currentRetryAt;
  }

  /** The payload of the last `hello` (connection id, user, streams). */
  get hello(): HelloPayload | null {
    return this.helloPayload;
  }

  /** Listen to one of the connection's events; returns the removal. */
  on<K extends keyof ConnectionEvents>(name: K, listener: (value: ConnectionEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /** Start connecting (after sign-in). Does nothing if already connected or trying. */
  connect(): void {
    if (!this.isStopped()) return;
    this.unwatch ??= watchBrowser(this.env, {
      online: this.handleOnline,
      offline: this.handleOffline,
      visible: this.handleVisible,
    });
    this.attempt = 0;
    this.retryFloorMs = 0;
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
    this.unwatch?.();
    this.unwatch = null;
    this.clearRetry();
    this.heartbeat.stop();
    this.dropSocket(BrowserCloseCode.Normal, "client disconnect");
    this.requests.failAll("closed", "connection closed");
    this.streams.clear();
    this.helloPayload = null;
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
    if (this.currentState === "open" && this.socket) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    if (this.isStopped()) return false;
    // Through the request table so it is flushed in order with the other queued requests.
    this.requests.add(frame, this.options.requestTimeoutMs, { resolve: () => {}, reject: () => {} });
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
  request<F extends ClientFrame>(frame: F, timeoutMs = this.options.requestTimeoutMs): Promise<ReplyPayload<F>> {
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
    const count = this.topics.get(topic) ?? 0;
    this.topics.set(topic, count + 1);
    if (count === 0 && this.currentState === "open") this.sendSubscribe(topic);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.topics.get(topic) ?? 1) - 1;
      if (left > 0) {
        this.topics.set(topic, left);
        return;
      }
      this.topics.delete(topic);
      if (this.currentState === "open") {
        this.requestWith({ type: "unsubscribe", payload: { topic } }, this.options.requestTimeoutMs, {
          resolve: () => {},
          reject: () => {},
        });
      }
    };
  }

  /** The topics currently joined (or to be joined on open). */
  get subscribedTopics(): string[] {
    return [...this.topics.keys()];
  }

  /**
   * Call `handler` when a stream's state must be refetched. `stream` is a stream name
   * (`user:7`) or a prefix ending before a colon (`user`, `topic:document`).
   */
  onResync(stream: string, handler: ResyncHandler): () => void {
    return this.resyncHandlers.add(stream, handler);
  }

  // --- state ------------------------------------------------------------------------

  private setState(
    newState: ConnectionState,
    detail: { reason: string; retryAt?: number | null; closeCode?: number | null },
  ): void {
    const oldState = this.currentState;
    if (!TRANSITIONS[oldState].includes(newState)) throw new InvalidTransitionError(oldState, newState);
    this.currentState = newState;
    this.currentRetryAt = detail.retryAt ?? null;
    this.emitter.emit("state", {
      newState,
      oldState,
      retryAt: this.currentRetryAt,
      closeCode: detail.closeCode ?? null,
      reason: detail.reason,
    });
  }

  private isStopped(): boolean {
    return (
      this.currentState === "idle" || this.currentState === "closed_auth" || this.currentState === "closed_forbidden"
    );
  }

  // --- socket -----------------------------------------------------------------------

  private socketUrl(): string {
    return typeof this.options.url === "function" ? this.options.url() : this.options.url;
  }

  private openSocket(): void {
    this.clearRetry();
    this.setState("connecting", { reason: this.attempt === 0 ? "connecting" : `attempt ${this.attempt + 1}` });
    const socket = new this.options.WebSocket(this.socketUrl());
    this.socket = socket;
    this.socketOpened = false;
    socket.onopen = () => {
      if (this.socket === socket) this.handleOpen();
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.handleData(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.handleClose(event.code, event.reason);
    };
    socket.onerror = () => {
      // Always followed by a close event, which carries what there is to know.
    };
  }

  private handleOpen(): void {
    this.socketOpened = true;
    this.setState("open", { reason: "open" });
    this.heartbeat.start(DEFAULT_HEARTBEAT_SECONDS);
    for (const topic of this.topics.keys()) this.sendSubscribe(topic);
    for (const frame of this.requests.unsent()) this.write(frame);
  }

  private handleClose(code: number, reason: string): void {
    const wasOpen = this.socketOpened;
    this.detachSocket();
    this.heartbeat.stop();
    this.streams.onDisconnect();
    this.requests.failSent("disconnected", `connection lost (${code})`);
    this.emitter.emit("close", { code, reason, wasOpen });
    if (this.isStopped()) return; // a listener of `close` disconnected us
    const policy = closePolicy(code);
    if (policy.action === "stop") {
      this.requests.failAll("closed", policy.why);
      this.setState(policy.state, { reason: policy.why, closeCode: code });
      return;
    }
    this.scheduleReconnect(policy.floorMs, code, policy.why);
  }

  /** Give up on a socket that no longer answers, without waiting for the browser's close. */
  private abandonSocket(reason: string): void {
    this.dropSocket(4000, reason);
    this.handleClose(BrowserCloseCode.Abnormal, reason);
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.detachSocket();
    try {
      socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  private detachSocket(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    this.socket = null;
    this.socketOpened = false;
  }

  private write(frame: ClientFrame & { id: string }): void {
    if (!this.socket) return;
    this.requests.markSent(frame.id);
    this.socket.send(JSON.stringify(frame));
  }

  private requestWith(
    frame: ClientFrame,
    timeoutMs: number,
    handlers: { resolve: (reply: ReplyFrame) => void; reject: (error: RequestError) => void },
  ): void {
    if (this.isStopped()) {
      handlers.reject(new RequestError("closed", `${frame.type}: not connected`));
      return;
    }
    const withId = this.requests.add(frame, timeoutMs, handlers);
    if (this.currentState === "open") this.write(withId);
  }

  // --- reconnecting -----------------------------------------------------------------

  private scheduleReconnect(floorMs: number, closeCode: number | null, reason: string): void {
    this.retryFloorMs = floorMs;
    if (!this.env.isOnline()) {
      this.setState("offline", { reason: "browser offline", closeCode });
      return;
    }
    const delay = backoffDelay(this.attempt, { ...this.options.backoff, floorMs });
    this.attempt += 1;
    this.setState("reconnecting", { reason, retryAt: Date.now() + delay, closeCode });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.openSocket();
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private readonly handleOnline = (): void => {
    if (this.currentState === "offline" || (this.currentState === "reconnecting" && this.retryFloorMs === 0)) {
      this.attempt = 0;
      this.openSocket();
    }
  };

  private readonly handleOffline = (): void => {
    if (this.currentState === "reconnecting") {
      this.clearRetry();
      this.setState("offline", { reason: "browser offline" });
    }
  };

  private readonly handleVisible = (): void => {
    // After a rate-limit close the longer wait is kept even when the tab comes back.
    if (this.currentState === "reconnecting" && this.retryFloorMs === 0) this.openSocket();
  };

  // --- heartbeat --------------------------------------------------------------------

  private sendPing(): void {
    if (!this.socket || this.currentState !== "open") return;
    // Any frame (the pong or anything else) counts as an answer, so the reply itself is not needed.
    this.requestWith({ type: "ping" }, 2 * 5_000, { resolve: () => {}, reject: () => {} });
  }

  // --- incoming frames --------------------------------------------------------------

  private handleData(data: unknown): void {
    this.heartbeat.beat();
    const frame = parseFrame(data);
    if (!frame) return;
    if (isReplyFrame(frame) && frame.id !== undefined) {
      if (this.requests.settle(frame)) return;
      if (frame.type !== "error") return; // a reply that came after its request timed out
    }
    switch (frame.type) {
      case "hello":
        this.attempt = 0;
        this.helloPayload = frame.payload;
        this.heartbeat.start(frame.payload.heartbeatInterval || DEFAULT_HEARTBEAT_SECONDS);
        this.emitter.emit("message", frame);
        this.apply(this.streams.onHello(frame.payload.streams));
        return;
      case "resync_required":
        this.emitter.emit("message", frame);
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
        this.emitter.emit("message", frame);
    }
  }

  /** Carry out what the stream tracker decided. */
  private apply(actions: StreamActions): void {
    for (const stream of actions.resync) this.resyncHandlers.run(stream);
    for (const event of actions.deliver) this.emitter.emit("message", event);
    if (actions.resume) this.sendResume(actions.resume);
  }

  private sendResume(positions: Record<string, StreamPosition>): void {
    const names = Object.keys(positions);
    this.requestWith({ type: "resume", payload: { streams: positions } }, this.options.requestTimeoutMs, {
      resolve: () => this.apply(this.streams.onResumeDone(names)),
      reject: (error) => {
        // A lost socket drops the buffers itself; the next hello decides again.
        if (error.code !== "disconnected" && error.code !== "closed") {
          this.apply(this.streams.onResumeFailed(names));
        }
      },
    });
  }

  private sendSubscribe(topic: string): void {
    this.requestWith({ type: "subscribe", payload: { topic } }, this.options.requestTimeoutMs, {
      resolve: (reply) => {
        const position = streamPositionIn(reply.payload);
        if (position) this.apply(this.streams.onPosition(position.stream, position));
        this.emitter.emit("subscribed", { topic });
      },
      reject: (error) => {
        if (error.code !== "disconnected" && error.code !== "closed") {
          this.emitter.emit("subscription_error", { topic, error });
        }
      },
    });
  }
}
