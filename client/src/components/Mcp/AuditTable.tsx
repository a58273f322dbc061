import type { AuditEntry } from "../../lib/mcp";

/** Who ran which command on which host when, and how it ended. */
export function AuditTable({ entries }: { entries: AuditEntry[] }) {
  return (
    <section aria-labelledby="mcp-audit-title">
      <h2 id="mcp-audit-title">Audit log</h2>
      <table className="mcp-table">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>Host</th>
            <th>Command</th>
            <th>Result</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id}>
              <td>{new Date(entry.at).toLocaleString()}</td>
              <td>{entry.username}</td>
              <td>{entry.action}</td>
              <td>{entry.host}</td>
              <td>{entry.command && <code>{entry.command}</code>}</td>
              <td>{entry.result}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
