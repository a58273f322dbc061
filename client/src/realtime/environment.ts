/** The browser signals the connection reacts to: online/offline and the tab becoming visible. */

/** Where the connection listens for `online`, `offline` and `visibilitychange`. */
export interface ConnectionEnvironment {
  window: Pick<EventTarget, "addEventListener" | "removeEventListener">;
  document: Pick<EventTarget, "addEventListener" | "removeEventListener"> & { visibilityState: string };
  isOnline: () => boolean;
}

/** The real browser. */
export function browserEnvironment(): ConnectionEnvironment {
  return { window, document, isOnline: () => navigator.onLine };
}

/** Call `handlers` on `online`, `offline` and the tab becoming visible; returns the removal. */
export function watchBrowser(
  env: ConnectionEnvironment,
  handlers: { online: () => void; offline: () => void; visible: () => void },
): () => void {
  const onVisibility = () => {
    if (env.document.visibilityState === "visible") handlers.visible();
  };
  env.window.addEventListener("online", handlers.online);
  env.window.addEventListener("offline", handlers.offline);
  env.document.addEventListener("visibilitychange", onVisibility);
  return () => {
    env.window.removeEventListener("online", handlers.online);
    env.window.removeEventListener("offline", handlers.offline);
    env.document.removeEventListener("visibilitychange", onVisibility);
  };
}
