/**
 * What the client does when its socket closes, per close code: one table, one place.
 *
 * Stream positions are always kept, so every reconnect resumes (the `hello` that follows
 * decides between resume and resync). Codes not in the table reconnect with the normal backoff.
 */

import { CloseCode } from "./protocol.gen";

/** Close codes the browser reports itself (never sent by our server). */
export const BrowserCloseCode = {
  /** a clean close with no particular reason */
  Normal: 1000,
  /** the connection dropped without a close frame, or the upgrade was refused (HTTP 401/403) */
  Abnormal: 1006,
} as const;

/** The state a connection rests in after a close that stops it. */
export type StopState = "closed_auth" | "closed_forbidden" | "idle";

/** The decision for one close code. */
export type ClosePolicy =
  | { action: "reconnect" /** minimum delay before reconnecting, ms */; floorMs: number; why: string }
  | { action: "stop"; state: StopState; why: string };

/** The reconnect policy, keyed by close code. */
export const CLOSE_POLICY: Readonly<Record<number, ClosePolicy>> = {
  [CloseCode.GoingAway]: { action: "reconnect", floorMs: 0, why: "server going away" },
  [BrowserCloseCode.Abnormal]: { action: "reconnect", floorMs: 0, why: "connection lost" },
  [CloseCode.InvalidData]: { action: "stop", state: "idle", why: "stopped by the server (text that is not UTF-8)" },
  [CloseCode.PolicyViolation]: { action: "stop", state: "idle", why: "stopped by the server (policy violation)" },
  [CloseCode.MessageTooBig]: { action: "reconnect", floorMs: 0, why: "message too big" },
  [CloseCode.TryAgainLater]: { action: "reconnect", floorMs: 2_000, why: "server busy: try again later" },
  [CloseCode.SessionEnded]: { action: "stop", state: "closed_auth", why: "session ended: signed out elsewhere" },
  [CloseCode.AccessWithdrawn]: { action: "stop", state: "closed_forbidden", why: "access withdrawn" },
  [CloseCode.TooSlow]: { action: "reconnect", floorMs: 0, why: "too slow to keep up" },
  [CloseCode.RateLimited]: { action: "reconnect", floorMs: 10_000, why: "rate limited" },
};

const DEFAULT_POLICY: ClosePolicy = { action: "reconnect", floorMs: 0, why: "connection closed" };

/** The policy for `code`. */
export function closePolicy(code: number): ClosePolicy {
  return CLOSE_POLICY[code] ?? DEFAULT_POLICY;
}
