import { useCallback, useEffect, useState } from "react";
import { useConnection, useConnectionStatus, useResync, useWebSocketEvent } from "../../contexts/WebSocketContext";
import type { PresenceStatePayload } from "../../realtime/protocol.gen";
import { applyDiff, applyState, EMPTY_PRESENCE, type PresenceView } from "./presence";

export const PRESENCE_TOPIC = "presence:app";
/** A tab without keyboard, pointer or scroll input for this long reports itself idle. */
export const IDLE_AFTER_MS = 3 * 60 * 1000;

/**
 * Who is online, live: the state that follows the subscription, then diffs; on a version gap
 * (or a resync of the topic) the snapshot is asked for again with RPC `presence.state`.
 */
export function usePresence(topic: string = PRESENCE_TOPIC): PresenceView {
  const connection = useConnection();
  const [view, setView] = useState<PresenceView>(EMPTY_PRESENCE);
  const stream = `topic:${topic}`;
  const ours = (frame: { stream?: string }) => frame.stream === stream;

  const refetch = useCallback(() => {
    connection
      .rpc<PresenceStatePayload>("presence.state", { topic })
      .then((state) => setView((current) => applyState(current, state)))
      .catch(() => undefined); // the next diff or reconnect asks again
  }, [connection, topic]);

  useEffect(() => connection.subscribe(topic), [connection, topic]);
  useWebSocketEvent("presence_state", (frame) => setView((current) => applyState(current, frame.payload)), ours);
  useWebSocketEvent(
    "presence_diff",
    (frame) => {
      setView((current) => {
        const step = applyDiff(current, frame.payload);
        if (step.gap) queueMicrotask(refetch);
        return step.view;
      });
    },
    ours,
  );
  useResync(stream, refetch);
  return view;
}

/** Report this tab's input state: active on input, idle after {@link IDLE_AFTER_MS} without. */
export function useActivity(): void {
  const connection = useConnection();
  const { state } = useConnectionStatus();
  const [active, setActive] = useState(true);

  useEffect(() => {
    let timer = window.setTimeout(() => setActive(false), IDLE_AFTER_MS);
    const onInput = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => setActive(false), IDLE_AFTER_MS);
      setActive(true);
    };
    const events = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"] as const;
    for (const name of events) window.addEventListener(name, onInput, { passive: true });
    return () => {
      window.clearTimeout(timer);
      for (const name of events) window.removeEventListener(name, onInput);
    };
  }, []);

  // A new socket starts active on the server: tell it when this tab is idle (again after reconnects).
  useEffect(() => {
    if (state !== "open") return;
    connection.rpc("presence.activity", { status: active ? "active" : "idle" }).catch(() => undefined);
  }, [connection, state, active]);
}
