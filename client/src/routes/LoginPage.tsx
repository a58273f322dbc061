import { type FormEvent, useState } from "react";
import { Navigate, useLocation } from "react-router";
import { ConnectionIndicator } from "../components/ConnectionIndicator/ConnectionIndicator";
import { useAuth } from "../contexts/AuthContext";
import { useConnectionStatus } from "../contexts/WebSocketContext";
import { ApiError } from "../lib/api";

function describeLoginError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return error.message || "Wrong username or password.";
    if (error.status === 429) {
      return error.retryAfter !== null
        ? `Too many attempts. Try again in ${error.retryAfter} s.`
        : "Too many attempts. Try again later.";
    }
    return error.message;
  }
  return "The server could not be reached.";
}

/** `/login`: the sign-in form. */
export function LoginPage() {
  const { status, signIn, notice } = useAuth();
  const { state } = useConnectionStatus();
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (status === "signed_in") {
    const from = (location.state as { from?: string } | null)?.from;
    return <Navigate to={from && from !== "/login" ? from : "/documents"} replace />;
  }

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password);
    } catch (caught) {
      setError(describeLoginError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login__form" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to ProductDemo</h1>
        {notice && (
          <p role="status" className="banner banner--warning" data-testid="session-notice">
            {notice}
          </p>
        )}
        {notice && (state === "closed_auth" || state === "closed_forbidden") && (
          <p className="muted">
            Connection: <ConnectionIndicator />
          </p>
        )}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || status === "loading"}>
          Sign in
        </button>
      </form>
    </main>
  );
}
