import { sortedUsers } from "./presence";
import { useActivity, usePresence } from "./usePresence";

/** Who is online now, with active/idle, updated live. */
export function PresenceList() {
  const view = usePresence();
  useActivity();
  const users = sortedUsers(view);
  return (
    <section className="presence" aria-label="Online">
      <ul data-testid="presence-list" className="presence__list">
        {users.map((user) => (
          <li key={user.userId} data-status={user.status} title={`${user.username}: ${user.status}`}>
            <span className={`presence__dot presence__dot--${user.status}`} aria-hidden="true" />
            {user.username} <span className="muted">({user.status})</span>
          </li>
        ))}
      </ul>
      {view.version !== null && users.length === 0 && <p className="muted">Nobody else online.</p>}
    </section>
  );
}
