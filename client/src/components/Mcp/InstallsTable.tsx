import { Link } from "react-router";
import type { HostPublic, InstallPublic } from "../../lib/mcp";

/** Recent installs, newest first; each opens its terminal view. */
export function InstallsTable({ installs, hosts }: { installs: InstallPublic[]; hosts: HostPublic[] }) {
  const hostName = (id: string) => hosts.find((h) => h.id === id)?.name ?? id;
  return (
    <section aria-labelledby="mcp-installs-title">
      <h2 id="mcp-installs-title">Installs</h2>
      {installs.length === 0 ? (
        <p>No installs yet.</p>
      ) : (
        <table className="mcp-table">
          <thead>
            <tr>
              <th>Server</th>
              <th>Host</th>
              <th>State</th>
              <th>Result</th>
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {installs.map((install) => (
              <tr key={install.id}>
                <td>
                  <Link to={`/admin/mcp/${install.id}`}>{install.serverName}</Link>
                  {install.verifyOnly ? " (verify)" : ""}
                </td>
                <td>{hostName(install.hostId)}</td>
                <td>{install.state}</td>
                <td>{install.message}</td>
                <td>{new Date(install.createdAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
