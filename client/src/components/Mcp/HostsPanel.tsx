import { type FormEvent, useState } from "react";
import { addHost, deleteHost, type HostPublic, scanHost, trustHost } from "../../lib/mcp";

function messageOf(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}

/** Hosts: add one (the key pasted or read from a file), fetch and confirm its host key, delete. */
export function HostsPanel({ hosts, changed }: { hosts: HostPublic[]; changed: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [scanned, setScanned] = useState<Record<string, string>>({});

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      changed();
    } catch (caught) {
      setError(messageOf(caught));
    }
  };

  return (
    <section aria-labelledby="mcp-hosts-title">
      <h2 id="mcp-hosts-title">Hosts</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table className="mcp-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Login</th>
            <th>Host key</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {hosts.map((host) => (
            <tr key={host.id} data-testid={`mcp-host-${host.name}`}>
              <td>{host.name}</td>
              <td>
                {host.username}@{host.hostname}:{host.port}
              </td>
              <td>
                {host.trusted ? (
                  <span>
                    Pinned <code>{host.fingerprint}</code>
                  </span>
                ) : scanned[host.id] ? (
                  <span>
                    The host presents <code data-testid="mcp-fingerprint">{scanned[host.id]}</code>. Compare it with the
                    host's own (<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>).{" "}
                    <button type="button" onClick={() => void run(() => trustHost(host.id, scanned[host.id] ?? ""))}>
                      Trust this key
                    </button>
                  </span>
                ) : (
                  <button
                    type="button"
                    onClick={() =>
                      void run(async () => {
                        const fingerprint = await scanHost(host.id);
                        setScanned((all) => ({ ...all, [host.id]: fingerprint }));
                      })
                    }
                  >
                    Fetch host key
                  </button>
                )}
              </td>
              <td>
                <button type="button" onClick={() => void run(() => deleteHost(host.id))}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <AddHostForm onAdded={changed} />
    </section>
  );
}

function AddHostForm({ onAdded }: { onAdded: () => void }) {
  const [privateKey, setPrivateKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    setBusy(true);
    setError(null);
    try {
      const password = String(data.get("password") ?? "");
      await addHost({
        name: String(data.get("name") ?? ""),
        hostname: String(data.get("hostname") ?? ""),
        port: Number(data.get("port") ?? 22),
        username: String(data.get("username") ?? ""),
        privateKey,
        ...(password ? { password } : {}),
      });
      form.reset();
      setPrivateKey("");
      onAdded();
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="mcp-form" onSubmit={(event) => void submit(event)} aria-label="Add a host">
      <h3>Add a host</h3>
      <label>
        Name <input name="name" required maxLength={100} />
      </label>
      <label>
        Hostname <input name="hostname" required maxLength={255} />
      </label>
      <label>
        Port <input name="port" type="number" min={1} max={65535} defaultValue={22} required />
      </label>
      <label>
        Username <input name="username" required maxLength={64} />
      </label>
      <label>
        Private key
        <textarea
          name="privateKey"
          rows={4}
          required
          value={privateKey}
          onChange={(event) => setPrivateKey(event.target.value)}
          placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"
          spellCheck={false}
          autoComplete="off"
        />
      </label>
      <label>
        Or read it from a file{" "}
        <input
          type="file"
          onChange={(event) => {
            const file = event.target.files?.[0];
            if (file) void file.text().then(setPrivateKey);
          }}
        />
      </label>
      <label>
        Password (optional) <input name="password" type="password" autoComplete="off" />
      </label>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Add host
      </button>
    </form>
  );
}
