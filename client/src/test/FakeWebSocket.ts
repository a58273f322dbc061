/** A scripted stand-in for the browser's WebSocket, and a controllable browser environment. */

import type { ConnectionEnvironment } from "../realtime/environment";
import type { ClientFrame } from "../realtime/protocol.gen";
import type { WebSocketLike } from "../realtime/socketSlot";

/** A WebSocket whose "server side" the test drives: open, receive, close. */
export class FakeWebSocket implements WebSocketLike {
  /** Every socket created, oldest first. */
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** The most recently created socket. */
  static get last(): FakeWebSocket {
    const socket = FakeWebSocket.instances.at(-1);
    if (!socket) throw new Error("no socket was created");
    return socket;
  }

  readonly url: string;
  readonly sent: string[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  /** The frames the client sent, parsed. */
  get frames(): Array<ClientFrame & { id?: string }> {
    return this.sent.map((text) => JSON.parse(text) as ClientFrame & { id?: string });
  }

  /** The client frames of one type. */
  framesOf<T extends ClientFrame["type"]>(type: T): Array<Extract<ClientFrame, { type: T }> & { id: string }> {
    return this.frames.filter((f) => f.type === type) as Array<Extract<ClientFrame, { type: T }> & { id: string }>;
  }

  // --- the server's side --------------------------------------------------------------

  open(): void {
    this.onopen?.(new Event("open"));
  }

  receive(frame: object): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
  }

  serverClose(code: number, reason = ""): void {
    this.onclose?.(new CloseEvent("close", { code, reason }));
  }

  /** Open and send a hello. */
  accept(streams: Record<string, { epoch: string; seq: number }> = {}, heartbeatInterval = 25): void {
    this.open();
    this.receive({
      type: "hello",
      payload: {
        connectionId: `c_${FakeWebSocket.instances.length}`,
        user: { id: 1, username: "admin", role: "admin" },
        protocol: 1,
        heartbeatInterval,
        serverTime: Date.now(),
        streams,
      },
    });
  }
}

/** A browser environment whose online flag and visibility the test sets. */
export class FakeEnvironment implements ConnectionEnvironment {
  readonly window = new EventTarget();
  readonly document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  online = true;

  readonly isOnline = (): boolean => this.online;

  goOffline(): void {
    this.online = false;
    this.window.dispatchEvent(new Event("offline"));
  }

  goOnline(): void {
    this.online = true;
    this.window.dispatchEvent(new Event("online"));
  }

  setVisibility(state: "visible" | "hidden"): void {
    this.document.visibilityState = state;
    this.document.dispatchEvent(new Event("visibilitychange"));
  }
}
