import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { AuditTable } from "../components/Mcp/AuditTable";
import { HostsPanel } from "../components/Mcp/HostsPanel";
import { InstallForm } from "../components/Mcp/InstallForm";
import { InstallsTable } from "../components/Mcp/InstallsTable";
import { InstallView } from "../components/Mcp/InstallView";
import "../components/Mcp/Mcp.css";
import {
  type AuditEntry,
  type HostPublic,
  type InstallPublic,
  listAudit,
  listHosts,
  listInstalls,
  listServers,
  type ServerPublic,
} from "../lib/mcp";

/** `/admin/mcp[/:installId]`: hosts, the catalogue, installs with their live terminal, the audit log. */
export function McpPage() {
  const { installId } = useParams();
  const navigate = useNavigate();
  const [hosts, setHosts] = useState<HostPublic[]>([]);
  const [servers, setServers] = useState<ServerPublic[]>([]);
  const [installs, setInstalls] = useState<InstallPublic[]>([]);
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    Promise.all([listHosts(), listServers(), listInstalls(), listAudit()]).then(
      ([h, s, i, a]) => {
        setHosts(h);
        setServers(s);
        setInstalls(i);
        setAudit(a);
        setError(null);
      },
      (caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)),
    );
  }, []);
  useEffect(refresh, [refresh]);

  const open = (install: InstallPublic) => navigate(`/admin/mcp/${install.id}`);

  return (
    <section aria-labelledby="mcp-title" className="mcp">
      <p>
        <Link to="/admin">Admin</Link> → MCP servers
      </p>
      <h1 id="mcp-title">MCP servers</h1>
      {error && (
        <p role="alert" className="error">
          Could not load: {error}
        </p>
      )}
      {installId && <InstallView key={installId} installId={installId} opened={open} changed={refresh} />}
      <InstallForm
        hosts={hosts}
        servers={servers}
        started={(install) => {
          refresh();
          open(install);
        }}
      />
      <InstallsTable installs={installs} hosts={hosts} />
      <HostsPanel hosts={hosts} changed={refresh} />
      <AuditTable entries={audit} />
    </section>
  );
}
