import { useEffect } from "react";
import { formatTime } from "./formatTime";
import { type NotificationItem, useNotifications } from "./NotificationsContext";

/** How long a toast stays, ms. */
export const TOAST_DURATION_MS = 6_000;

function Toast({ item, onDismiss }: { item: NotificationItem; onDismiss: (key: string) => void }) {
  useEffect(() => {
    const timer = setTimeout(() => onDismiss(item.key), TOAST_DURATION_MS);
    return () => clearTimeout(timer);
  }, [item.key, onDismiss]);

  // Text nodes only: the message is user-generated data, never markup.
  return (
    <div className={`toast toast--${item.level}`} data-testid="toast" data-level={item.level}>
      <div className="toast__body">
        <p className="toast__message">{item.message}</p>
        <p className="toast__meta">
          {item.from ? `${item.from} · ` : ""}
          {formatTime(item.createdAt)}
        </p>
      </div>
      <button
        type="button"
        className="toast__close"
        aria-label="Dismiss notification"
        onClick={() => onDismiss(item.key)}
      >
        ×
      </button>
    </div>
  );
}

/** The stack of recent notifications; each leaves after {@link TOAST_DURATION_MS}. */
export function Toasts() {
  const { toasts, dismissToast } = useNotifications();
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((item) => (
        <Toast key={item.key} item={item} onDismiss={dismissToast} />
      ))}
    </div>
  );
}
