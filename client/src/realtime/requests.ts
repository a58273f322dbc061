/**
 * Requests and their replies: ids, correlation, timeouts, and the queue of requests
 * made while the socket is not open.
 */

import type {
  AckFrame,
  ClientFrame,
  ErrorCode,
  ErrorFrame,
  PingFrame,
  PongFrame,
  PongPayload,
  RpcFrame,
  RpcResultFrame,
  RpcResultPayload,
} from "./protocol.gen";

/** A frame that answers a request. */
export type ReplyFrame = AckFrame | RpcResultFrame | PongFrame | ErrorFrame;

/** The payload a request resolves with: `rpc` → `rpc_result`, `ping` → `pong`, else `ack`. */
export type ReplyPayload<F extends ClientFrame> = F extends RpcFrame
  ? RpcResultPayload
  : F extends PingFrame
    ? PongPayload
    : Record<string, unknown>;

/** Why a request failed: the server's error code, or what happened on this side. */
export type RequestErrorCode = ErrorCode | "timeout" | "disconnected" | "closed";

/** A request that did not get a successful reply. */
export class RequestError extends Error {
  /** The server's `error` code, `timeout`, `disconnected` (socket lost after sending) or `closed`. */
  readonly code: RequestErrorCode;

  constructor(code: RequestErrorCode, message: string) {
    super(message);
    this.name = "RequestError";
    this.code = code;
  }
}

/** Callbacks for one request's outcome. */
export interface ReplyHandlers {
  resolve: (frame: ReplyFrame) => void;
  reject: (error: RequestError) => void;
}

interface Pending extends ReplyHandlers {
  frame: ClientFrame & { id: string };
  sent: boolean;
  timer: ReturnType<typeof setTimeout>;
}

/** The table of requests awaiting their replies, in the order they were made. */
export class PendingRequests {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();

  /** Register `frame` under a fresh id; fails with `timeout` after `timeoutMs`. */
  add(frame: ClientFrame, timeoutMs: number, handlers: ReplyHandlers): ClientFrame & { id: string } {
    const id = String(this.nextId++);
    const withId = { ...frame, id };
    const timer = setTimeout(() => {
      if (this.pending.delete(id)) {
        handlers.reject(new RequestError("timeout", `${frame.type} ${id}: no reply within ${timeoutMs} ms`));
      }
    }, timeoutMs);
    this.pending.set(id, { ...handlers, frame: withId, sent: false, timer });
    return withId;
  }

  /** Mark `id` as written to the socket. */
  markSent(id: string): void {
    const entry = this.pending.get(id);
    if (entry) entry.sent = true;
  }

  /** Requests not yet written to the socket, oldest first. */
  unsent(): Array<ClientFrame & { id: string }> {
    return [...this.pending.values()].filter((entry) => !entry.sent).map((entry) => entry.frame);
  }

  /** Settle the request that `frame` answers; false if no request has its id. */
  settle(frame: ReplyFrame): boolean {
    if (frame.id === undefined) return false;
    const id = String(frame.id);
    const entry = this.pending.get(id);
    if (!entry) return false;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (frame.type === "error") {
      entry.reject(new RequestError(frame.payload.code, frame.payload.message));
    } else {
      entry.resolve(frame);
    }
    return true;
  }

  /** Fail the requests already sent (their replies can no longer come). */
  failSent(code: RequestErrorCode, message: string): void {
    this.failWhere((entry) => entry.sent, code, message);
  }

  /** Fail every request. */
  failAll(code: RequestErrorCode, message: string): void {
    this.failWhere(() => true, code, message);
  }

  private failWhere(predicate: (entry: Pending) => boolean, code: RequestErrorCode, message: string): void {
    for (const [id, entry] of [...this.pending]) {
      if (!predicate(entry)) continue;
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(new RequestError(code, `${entry.frame.type} ${id}: ${message}`));
    }
  }
}

/** True for the frame types that answer a request. */
export function isReplyFrame(frame: { type: string }): frame is ReplyFrame {
  return frame.type === "ack" || frame.type === "rpc_result" || frame.type === "pong" || frame.type === "error";
}
