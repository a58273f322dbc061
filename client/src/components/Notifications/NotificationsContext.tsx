import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { useAuth } from "../../contexts/AuthContext";
import { useWebSocketEvent } from "../../contexts/WebSocketContext";
import type { NotificationPayload } from "../../realtime/protocol.gen";

/** A notification as kept by the client. */
export interface NotificationItem extends NotificationPayload {
  /** Unique on this page. */
  key: string;
  read: boolean;
}

interface NotificationsValue {
  /** Newest first, at most {@link MAX_NOTIFICATIONS}. */
  items: NotificationItem[];
  /** Keys of the notifications shown as toasts. */
  toasts: NotificationItem[];
  unread: number;
  dismissToast: (key: string) => void;
  markAllRead: () => void;
}

/** How many notifications the list keeps. */
export const MAX_NOTIFICATIONS = 100;

const NotificationsContext = createContext<NotificationsValue | null>(null);

let counter = 0;

/** Collects `notification` events into a list and a stack of toasts. */
export function NotificationsProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<NotificationItem[]>([]);
  const [toastKeys, setToastKeys] = useState<string[]>([]);
  const { status } = useAuth();

  useWebSocketEvent("notification", (frame) => {
    counter += 1;
    const key = frame.stream && frame.seq !== undefined ? `${frame.stream}#${frame.seq}#${counter}` : `n${counter}`;
    const item: NotificationItem = { ...frame.payload, key, read: false };
    setItems((current) => [item, ...current].slice(0, MAX_NOTIFICATIONS));
    setToastKeys((current) => [...current, key]);
  });

  useEffect(() => {
    if (status === "signed_out") {
      setItems([]);
      setToastKeys([]);
    }
  }, [status]);

  const dismissToast = useCallback((key: string) => {
    setToastKeys((current) => current.filter((k) => k !== key));
  }, []);

  const markAllRead = useCallback(() => {
    setItems((current) => (current.some((n) => !n.read) ? current.map((n) => ({ ...n, read: true })) : current));
  }, []);

  const value = useMemo(() => {
    const byKey = new Map(items.map((n) => [n.key, n]));
    const toasts = toastKeys.flatMap((k) => byKey.get(k) ?? []);
    return { items, toasts, unread: items.filter((n) => !n.read).length, dismissToast, markAllRead };
  }, [items, toastKeys, dismissToast, markAllRead]);

  return <NotificationsContext.Provider value={value}>{children}</NotificationsContext.Provider>;
}

/** The notifications received on this page. */
export function useNotifications(): NotificationsValue {
  const value = useContext(NotificationsContext);
  if (!value) throw new Error("useNotifications() must be used inside <NotificationsProvider>");
  return value;
}
