/** The connection's states and the transitions allowed between them. */

/**
 * - `idle`: not connected and not trying (signed out, or stopped by a policy close)
 * - `connecting`: a socket is being opened
 * - `open`: the socket is open
 * - `reconnecting`: waiting for the backoff timer before the next attempt
 * - `offline`: the browser is offline; waits for the `online` event
 * - `closed_auth`: closed with 4401 (session ended): sign in again
 * - `closed_forbidden`: closed with 4403 (access withdrawn)
 */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "open"
  | "reconnecting"
  | "offline"
  | "closed_auth"
  | "closed_forbidden";

const STOPPED = ["idle", "closed_auth", "closed_forbidden"] as const;

/** Whether `state` is one where the connection neither holds a socket nor tries to. */
export function isStopped(state: ConnectionState): boolean {
  return (STOPPED as readonly ConnectionState[]).includes(state);
}

/** For each state, the states it may move to. */
export const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  idle: ["connecting", "offline"],
  connecting: ["open", "reconnecting", "offline", ...STOPPED],
  open: ["reconnecting", "offline", ...STOPPED],
  reconnecting: ["connecting", "offline", "idle"],
  offline: ["connecting", "idle"],
  closed_auth: ["connecting", "offline", "idle"],
  closed_forbidden: ["connecting", "offline", "idle"],
};

/** A state change, as emitted under `state`. */
export interface StateChange {
  newState: ConnectionState;
  oldState: ConnectionState;
  /** When the next attempt starts (ms since the epoch), while `reconnecting`. */
  retryAt: number | null;
  /** The close code that caused this change, if one did. */
  closeCode: number | null;
  /** Why, in words. */
  reason: string;
}

/** Thrown for a transition {@link TRANSITIONS} does not allow: a bug in the connection. */
export class InvalidTransitionError extends Error {
  constructor(from: ConnectionState, to: ConnectionState) {
    super(`cannot go from ${from} to ${to}; expected one of ${TRANSITIONS[from].join(", ")}`);
    this.name = "InvalidTransitionError";
  }
}

/** What a transition says besides the new state. */
export interface TransitionDetail {
  reason: string;
  retryAt?: number | null;
  closeCode?: number | null;
}

/** The current state, changed only through {@link StateMachine.move}, which checks the transition. */
export class StateMachine {
  private current: ConnectionState = "idle";
  private currentRetryAt: number | null = null;

  get state(): ConnectionState {
    return this.current;
  }

  /** When the next attempt starts (ms since the epoch), while `reconnecting`; else null. */
  get retryAt(): number | null {
    return this.currentRetryAt;
  }

  /**
   * Move to `newState` and describe the change.
   *
   * Raises:
   *   InvalidTransitionError: {@link TRANSITIONS} does not allow it.
   */
  move(newState: ConnectionState, detail: TransitionDetail): StateChange {
    const oldState = this.current;
    if (!TRANSITIONS[oldState].includes(newState)) throw new InvalidTransitionError(oldState, newState);
    this.current = newState;
    this.currentRetryAt = detail.retryAt ?? null;
    return {
      newState,
      oldState,
      retryAt: this.currentRetryAt,
      closeCode: detail.closeCode ?? null,
      reason: detail.reason,
    };
  }
}
