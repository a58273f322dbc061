/** The public shapes of {@link Connection}: its options and the events it emits. */

import type { BackoffOptions } from "./backoff";
import type { ConnectionEnvironment } from "./environment";
import type { ServerFrame } from "./protocol.gen";
import type { RequestError } from "./requests";
import type { WebSocketConstructor } from "./socketSlot";
import type { StateChange } from "./state";

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
