import { useEffect, useState } from "react";
import { useConnectionStatus } from "../../contexts/WebSocketContext";
import { connectionLabel } from "./connectionLabel";

/** The connection's state in words, with a live countdown while waiting to reconnect. */
export function ConnectionIndicator() {
  const { state, retryAt, reason } = useConnectionStatus();
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (state !== "reconnecting") return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [state]);

  return (
    <span className={`connection connection--${state}`} title={reason || undefined}>
      <span className="connection__dot" aria-hidden="true" />
      <span data-testid="connection-state" data-state={state}>
        {connectionLabel(state, retryAt, now)}
      </span>
    </span>
  );
}
