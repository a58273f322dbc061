import { type FormEvent, useState } from "react";
import { ApiError, broadcast, type UserConnections } from "../../lib/api";

/** Send an announcement to everyone, or to one connected user. */
export function AnnounceForm({ users }: { users: UserConnections[] }) {
  const [message, setMessage] = useState("");
  const [target, setTarget] = useState("");
  const [level, setLevel] = useState<"info" | "warning">("info");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    setError(null);
    try {
      await broadcast({
        message,
        level,
        ...(target ? { userId: Number(target) } : {}),
      });
      const recipient = target
        ? (users.find((u) => String(u.userId) === target)?.username ?? `user ${target}`)
        : "everyone";
      setResult(`Announcement sent to ${recipient}.`);
      setMessage("");
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 403) setError("Only administrators can send announcements.");
      else setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="announce" onSubmit={submit} aria-labelledby="announce-title">
      <h2 id="announce-title">Send an announcement</h2>
      <label>
        Message
        <textarea
          data-testid="announce-message"
          required
          rows={3}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
        />
      </label>
      <div className="announce__row">
        <label>
          Recipient
          <select data-testid="announce-target" value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">Everyone</option>
            {users.map((u) => (
              <option key={u.userId} value={String(u.userId)}>
                {u.username}
              </option>
            ))}
          </select>
        </label>
        <label>
          Level
          <select
            data-testid="announce-level"
            value={level}
            onChange={(e) => setLevel(e.target.value === "warning" ? "warning" : "info")}
          >
            <option value="info">Info</option>
            <option value="warning">Warning</option>
          </select>
        </label>
        <button type="submit" data-testid="announce-send" disabled={busy || message.trim() === ""}>
          Send
        </button>
      </div>
      {result && (
        <p role="status" data-testid="announce-result">
          {result}
        </p>
      )}
      {error && (
        <p role="alert" className="error" data-testid="announce-error">
          {error}
        </p>
      )}
    </form>
  );
}
