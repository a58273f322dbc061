import { useState } from "react";
import { type HostPublic, type InstallPublic, type ServerPublic, startInstall } from "../../lib/mcp";

/** Pick a host and a server, read the exact command in a confirmation, then start the install. */
export function InstallForm({
  hosts,
  servers,
  started,
}: {
  hosts: HostPublic[];
  servers: ServerPublic[];
  started: (install: InstallPublic) => void;
}) {
  const trusted = hosts.filter((host) => host.trusted);
  const [hostId, setHostId] = useState("");
  const [serverId, setServerId] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const host = trusted.find((h) => h.id === hostId) ?? trusted[0];
  const server = servers.find((s) => s.id === serverId) ?? servers[0];

  const run = async () => {
    if (!host || !server) return;
    setError(null);
    try {
      started(await startInstall(host.id, server.id));
      setConfirming(false);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  return (
    <section aria-labelledby="mcp-install-title">
      <h2 id="mcp-install-title">Install a server</h2>
      {trusted.length === 0 ? (
        <p>Add a host and confirm its host key first.</p>
      ) : (
        <div className="mcp-form">
          <label>
            Host{" "}
            <select value={host?.id ?? ""} onChange={(event) => setHostId(event.target.value)}>
              {trusted.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.name} ({h.username}@{h.hostname})
                </option>
              ))}
            </select>
          </label>
          <label>
            Server{" "}
            <select value={server?.id ?? ""} onChange={(event) => setServerId(event.target.value)}>
              {servers.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
          <button type="button" disabled={!server} onClick={() => setConfirming(true)}>
            Install…
          </button>
        </div>
      )}
      {confirming && host && server && (
        <div role="dialog" aria-modal="true" aria-labelledby="mcp-confirm-title" className="mcp-dialog">
          <h3 id="mcp-confirm-title">
            Run this on {host.username}@{host.hostname}:{host.port}?
          </h3>
          <pre data-testid="mcp-confirm-command" className="mcp-command">
            {server.installCommand}
          </pre>
          <p>
            Then, to verify: <code>{server.launchCommand}</code>
          </p>
          {error && (
            <p role="alert" className="error">
              {error}
            </p>
          )}
          <button type="button" onClick={() => void run()}>
            Run
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
    </section>
  );
}
