import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { useAuth } from "../../contexts/AuthContext";
import { useConnectionStatus, useWebSocketEvent } from "../../contexts/WebSocketContext";
import { fetchNotifications, markNotificationsRead, type StoredNotification } from "../../lib/api";

/** A notification as kept by the client. */
export interface NotificationItem extends StoredNotification {
  /** Unique on this page. */
  key: string;
}

interface NotificationsValue {
  /** Newest first. */
  items: NotificationItem[];
  /** The notifications shown as toasts. */
  toasts: NotificationItem[];
  /** Unread in all (the server's count, not only the loaded ones). */
  unread: number;
  /** True while older notifications may exist. */
  more: boolean;
  dismissToast: (key: string) => void;
  markRead: (id: number) => void;
  markAllRead: () => void;
  loadMore: () => void;
}

/** How many notifications one page loads. */
export const PAGE_SIZE = 20;

const NotificationsContext = createContext<NotificationsValue | null>(null);

const itemOf = (n: StoredNotification): NotificationItem => ({ ...n, key: `n${n.id}` });

/**
 * The user's notifications: the stored ones (loaded on sign-in and on every reconnect, paged
 * back on demand), live `notification` events (also shown as toasts), and read state that
 * `notifications_read` keeps equal in every tab.
 */
export function NotificationsProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<NotificationItem[]>([]);
  const [unread, setUnread] = useState(0);
  const [more, setMore] = useState(false);
  const [toastKeys, setToastKeys] = useState<string[]>([]);
  const { status } = useAuth();
  const { state } = useConnectionStatus();

  useEffect(() => {
    if (status === "signed_out") {
      setItems([]);
      setToastKeys([]);
      setUnread(0);
      return;
    }
    if (state !== "open") return;
    // What was missed while offline (or while this socket was away) comes from the store.
    fetchNotifications(null, PAGE_SIZE).then(
      (page) => {
        if (!Array.isArray(page?.notifications)) return;
        setItems((current) => merge(page.notifications.map(itemOf), current));
        setUnread(page.unread);
        setMore(page.notifications.length === PAGE_SIZE);
      },
      () => undefined,
    );
  }, [status, state]);

  useWebSocketEvent("notification", (frame) => {
    const p = frame.payload;
    // Already fetched over REST (or replayed after a resume): neither counted nor shown again.
    if (items.some((n) => n.id === p.id)) return;
    const item = itemOf({ ...p, kind: p.kind ?? "announcement", level: p.level ?? "info", read: false });
    setItems((current) => merge([item], current));
    setUnread((n) => n + 1);
    setToastKeys((current) => (current.includes(item.key) ? current : [...current, item.key]));
  });

  useWebSocketEvent("notifications_read", (frame) => {
    const { ids, all, unread: left } = frame.payload;
    const marked = new Set(ids);
    setItems((current) => current.map((n) => (all || marked.has(n.id) ? { ...n, read: true } : n)));
    setUnread(left);
  });

  const dismissToast = useCallback((key: string) => {
    setToastKeys((current) => current.filter((k) => k !== key));
  }, []);

  // The server tells every tab (this one included) through notifications_read.
  const markRead = useCallback((id: number) => void markNotificationsRead([id]).catch(() => undefined), []);
  const markAllRead = useCallback(() => void markNotificationsRead("all").catch(() => undefined), []);

  const oldest = items.length > 0 ? items[items.length - 1].id : null;
  const loadMore = useCallback(() => {
    fetchNotifications(oldest, PAGE_SIZE).then(
      (page) => {
        if (!Array.isArray(page?.notifications)) return;
        setItems((current) => merge(current, page.notifications.map(itemOf)));
        setMore(page.notifications.length === PAGE_SIZE);
      },
      () => undefined,
    );
  }, [oldest]);

  const value = useMemo(() => {
    const byKey = new Map(items.map((n) => [n.key, n]));
    const toasts = toastKeys.flatMap((k) => byKey.get(k) ?? []);
    return { items, toasts, unread, more, dismissToast, markRead, markAllRead, loadMore };
  }, [items, toastKeys, unread, more, dismissToast, markRead, markAllRead, loadMore]);

  return <NotificationsContext.Provider value={value}>{children}</NotificationsContext.Provider>;
}

/** Both lists together, one entry per id, newest first. */
function merge(a: NotificationItem[], b: NotificationItem[]): NotificationItem[] {
  const byId = new Map<number, NotificationItem>();
  for (const n of [...b, ...a]) byId.set(n.id, n);
  return [...byId.values()].sort((x, y) => y.id - x.id);
}

/** The user's notifications. */
export function useNotifications(): NotificationsValue {
  const value = useContext(NotificationsContext);
  if (!value) throw new Error("useNotifications() must be used inside <NotificationsProvider>");
  return value;
}
