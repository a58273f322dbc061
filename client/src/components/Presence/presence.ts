/** Presence as the client keeps it: a versioned list of users, changed only by consecutive diffs. */

import type { PresenceDiffPayload, PresenceStatePayload, PresenceUser } from "../../realtime/protocol.gen";

/** Who is online at `version` (null before the first state). */
export interface PresenceView {
  version: number | null;
  users: Map<number, PresenceUser>;
}

export const EMPTY_PRESENCE: PresenceView = { version: null, users: new Map() };

/** A snapshot replaces everything, unless it is older than what we have. */
export function applyState(view: PresenceView, state: PresenceStatePayload): PresenceView {
  if (view.version !== null && state.version < view.version) return view;
  return { version: state.version, users: new Map(state.users.map((u) => [u.userId, u])) };
}

/**
 * Apply a diff. Old diffs (version already reached) are ignored; a diff that skips a version
 * means one was missed: `gap` is true and the caller asks for the snapshot again.
 */
export function applyDiff(view: PresenceView, diff: PresenceDiffPayload): { view: PresenceView; gap: boolean } {
  if (view.version === null) return { view, gap: true };
  if (diff.version <= view.version) return { view, gap: false };
  if (diff.version !== view.version + 1) return { view, gap: true };
  const users = new Map(view.users);
  for (const id of diff.leaves) users.delete(id);
  for (const user of [...diff.joins, ...diff.updates]) users.set(user.userId, user);
  return { view: { version: diff.version, users }, gap: false };
}

/** Users sorted by name, for display. */
export function sortedUsers(view: PresenceView): PresenceUser[] {
  return [...view.users.values()].sort((a, b) => a.username.localeCompare(b.username));
}
