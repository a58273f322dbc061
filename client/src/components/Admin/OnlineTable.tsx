import type { PresenceUser } from "../../realtime/protocol.gen";
import { sortedUsers } from "../Presence/presence";
import { usePresence } from "../Presence/usePresence";

export const ADMIN_PRESENCE_TOPIC = "presence:admin";

/** A user as `presence:admin` lists them: also their tabs, in all and per instance. */
type AdminPresenceUser = PresenceUser & { tabs?: number; instances?: Record<string, number> };

/** Everyone online on every instance, with their tabs per instance (topic `presence:admin`). */
export function OnlineTable() {
  const users = sortedUsers(usePresence(ADMIN_PRESENCE_TOPIC)) as AdminPresenceUser[];
  return (
    <table data-testid="online-table">
      <thead>
        <tr>
          <th>User</th>
          <th>Status</th>
          <th>Tabs</th>
          <th>Instances</th>
        </tr>
      </thead>
      <tbody>
        {users.map((u) => (
          <tr key={u.userId} data-user={u.username}>
            <td>{u.username}</td>
            <td>{u.status}</td>
            <td>{u.tabs}</td>
            <td>
              {Object.entries(u.instances ?? {})
                .map(([instance, tabs]) => `${instance} (${tabs})`)
                .join(", ")}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
