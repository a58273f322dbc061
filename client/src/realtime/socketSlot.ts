/**
 * The one socket a connection holds at a time. Handlers of a socket that was replaced or
 * dropped are detached first, so a late event of an old socket never reaches the connection.
 */

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

/** What the slot reports about its current socket. */
export interface SocketHandlers {
  open: () => void;
  data: (data: unknown) => void;
  close: (code: number, reason: string) => void;
}

/** Holds the current socket and forwards only its events. */
export class SocketSlot {
  private socket: WebSocketLike | null = null;
  private opened = false;
  private readonly WebSocketImpl: WebSocketConstructor;

  constructor(WebSocketImpl: WebSocketConstructor) {
    this.WebSocketImpl = WebSocketImpl;
  }

  /** Whether a socket is held (connecting or open). */
  get present(): boolean {
    return this.socket !== null;
  }

  /** Whether the held socket has opened (a refused upgrade closes with 1006 before opening). */
  get wasOpened(): boolean {
    return this.opened;
  }

  /** Replace any held socket with a new one to `url`. */
  open(url: string, handlers: SocketHandlers): void {
    this.detach();
    const socket = new this.WebSocketImpl(url);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.opened = true;
      handlers.open();
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) handlers.data(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) handlers.close(event.code, event.reason);
    };
    socket.onerror = () => {
      // Always followed by a close event, which carries what there is to know.
    };
  }

  /** Send text on the held socket; false when there is none. */
  send(text: string): boolean {
    if (!this.socket) return false;
    this.socket.send(text);
    return true;
  }

  /** Close the held socket without reporting its close event. */
  drop(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.detach();
    try {
      socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  /** Forget the held socket and silence its handlers. */
  detach(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    this.socket = null;
    this.opened = false;
  }
}
