import type { ConnectionState } from "../../realtime/state";

/**
 * The words shown for a connection state; `retryAt` and `now` (ms since the epoch) give the
 * countdown while reconnecting. `idle` (not connected, not trying) reads "offline".
 */
export function connectionLabel(state: ConnectionState, retryAt: number | null, now: number): string {
  switch (state) {
    case "open":
      return "connected";
    case "connecting":
      return "connecting";
    case "reconnecting": {
      const seconds = retryAt === null ? 1 : Math.max(1, Math.ceil((retryAt - now) / 1000));
      return `reconnecting in ${seconds}s`;
    }
    case "offline":
    case "idle":
      return "offline";
    case "closed_auth":
      return "signed out elsewhere";
    case "closed_forbidden":
      return "access withdrawn";
  }
}
