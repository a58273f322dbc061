import { formatTime } from "./formatTime";
import { useNotifications } from "./NotificationsContext";

/** The user's notifications, newest first, with read state and paging back. */
export function NotificationList() {
  const { items, unread, more, markRead, markAllRead, loadMore } = useNotifications();
  return (
    <section className="notifications" aria-label="Notifications">
      <h2 className="notifications__title">Notifications</h2>
      <button type="button" data-testid="mark-all-read" disabled={unread === 0} onClick={markAllRead}>
        Mark all read
      </button>
      <ul data-testid="notification-list" className="notifications__list">
        {items.map((item) => (
          <li
            key={item.key}
            className={`notification notification--${item.level}${item.read ? "" : " notification--unread"}`}
            data-level={item.level}
            data-read={item.read}
          >
            <span className="notification__message">{item.message}</span>
            <span className="notification__meta">
              {item.from ? `${item.from} · ` : ""}
              {formatTime(item.createdAt)}
            </span>
            {!item.read && (
              <button type="button" className="link" onClick={() => markRead(item.id)}>
                Mark read
              </button>
            )}
          </li>
        ))}
      </ul>
      {items.length === 0 && <p className="muted">No notifications yet.</p>}
      {more && (
        <button type="button" onClick={loadMore}>
          Older
        </button>
      )}
    </section>
  );
}
