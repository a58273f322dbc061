import { Link } from "react-router";
import { AnnounceForm } from "../components/Admin/AnnounceForm";
import { ConnectionsTable } from "../components/Admin/ConnectionsTable";
import { Dashboard } from "../components/Admin/Dashboard";
import { OnlineTable } from "../components/Admin/OnlineTable";
import { useConnectionsList } from "../components/Admin/useConnectionsList";

/** `/admin`: the live dashboard, announcements and who is connected. */
export function AdminPage() {
  const { data, error } = useConnectionsList();
  return (
    <section aria-labelledby="admin-title" className="admin">
      <h1 id="admin-title">Admin</h1>
      <p>
        <Link to="/admin/mcp">MCP servers</Link>: install MCP servers on remote hosts over SSH.
      </p>
      <h2>Dashboard</h2>
      <Dashboard />
      <h2>Who is online</h2>
      <OnlineTable />
      <AnnounceForm users={data?.users ?? []} />
      <h2>Who is connected</h2>
      {error && (
        <p role="alert" className="error">
          Could not load connections: {error}
        </p>
      )}
      <ConnectionsTable data={data} />
    </section>
  );
}
