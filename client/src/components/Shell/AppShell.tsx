import { useState } from "react";
import { NavLink, Outlet } from "react-router";
import { useAuth } from "../../contexts/AuthContext";
import { useTheme } from "../../contexts/ThemeContext";
import { useConnectionStatus } from "../../contexts/WebSocketContext";
import { ConnectionIndicator } from "../ConnectionIndicator/ConnectionIndicator";
import { NotificationList } from "../Notifications/NotificationList";
import { useNotifications } from "../Notifications/NotificationsContext";
import { Toasts } from "../Notifications/Toasts";
import { PresenceList } from "../Presence/PresenceList";

/** The signed-in layout: navigation, user, connection, notifications, theme, sign-out. */
export function AppShell() {
  const { user, signOut } = useAuth();
  const { theme, toggleTheme } = useTheme();
  const { state } = useConnectionStatus();
  const { unread } = useNotifications();
  const [showNotifications, setShowNotifications] = useState(false);

  const toggleNotifications = () => setShowNotifications((open) => !open);

  return (
    <div className="shell">
      <header className="shell__header">
        <span className="shell__brand">ProductDemo</span>
        <nav aria-label="Main" className="shell__nav">
          <NavLink to="/documents">Documents</NavLink>
          <NavLink to="/chat">Chat</NavLink>
          {user?.role === "admin" && <NavLink to="/admin">Admin</NavLink>}
        </nav>
        <div className="shell__tools">
          <ConnectionIndicator />
          <button
            type="button"
            data-testid="notifications-toggle"
            aria-expanded={showNotifications}
            aria-controls="notifications-panel"
            onClick={toggleNotifications}
          >
            Notifications{unread > 0 ? ` (${unread})` : ""}
          </button>
          <button
            type="button"
            data-testid="theme-toggle"
            aria-pressed={theme === "dark"}
            aria-label="Dark theme"
            onClick={toggleTheme}
          >
            {theme === "dark" ? "☀ Light" : "☾ Dark"}
          </button>
          <span data-testid="current-user" className="shell__user">
            {user?.username}
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {state === "closed_forbidden" && (
        <div role="alert" className="banner banner--warning">
          Your access was withdrawn by the server. Live updates have stopped; sign out and sign in again, or ask an
          administrator.
        </div>
      )}
      {showNotifications && (
        <aside id="notifications-panel" className="shell__panel">
          <NotificationList />
        </aside>
      )}
      <aside className="shell__presence">
        <PresenceList />
      </aside>
      <main className="shell__main">
        <Outlet />
      </main>
      <Toasts />
    </div>
  );
}
