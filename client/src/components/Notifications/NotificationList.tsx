import { formatTime } from "./formatTime";
import { useNotifications } from "./NotificationsContext";

/** Every notification received on this page, newest first. */
export function NotificationList() {
  const { items } = useNotifications();
  return (
    <section className="notifications" aria-label="Notifications">
      <h2 className="notifications__title">Notifications</h2>
      <ul data-testid="notification-list" className="notifications__list">
        {items.map((item) => (
          <li key={item.key} className={`notification notification--${item.level}`} data-level={item.level}>
            <span className="notification__message">{item.message}</span>
            <span className="notification__meta">
              {item.from ? `${item.from} · ` : ""}
              {formatTime(item.createdAt)}
            </span>
          </li>
        ))}
      </ul>
      {items.length === 0 && <p className="muted">No notifications yet.</p>}
    </section>
  );
}
