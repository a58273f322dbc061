import type { ConnectionsPublic } from "../../lib/api";

/** Who is connected, one row per user. */
export function ConnectionsTable({ data }: { data: ConnectionsPublic | null }) {
  if (!data) {
    return (
      <p className="muted" role="status">
        Loading connections…
      </p>
    );
  }
  return (
    <table data-testid="connections-table" className="table">
      <caption>
        {data.total} open {data.total === 1 ? "connection" : "connections"}
      </caption>
      <thead>
        <tr>
          <th scope="col">User</th>
          <th scope="col">User id</th>
          <th scope="col">Connections</th>
        </tr>
      </thead>
      <tbody>
        {data.users.map((u) => (
          <tr key={u.userId} data-user-id={u.userId}>
            <td>{u.username}</td>
            <td>{u.userId}</td>
            <td>{u.connections}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
