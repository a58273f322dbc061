import { useCallback, useEffect, useRef, useState } from "react";
import { useConnection, useConnectionStatus, useResync, useWebSocketEvent } from "../../contexts/WebSocketContext";
import type { ConnectionsPublic } from "../../lib/api";

/** The topic whose events say who connected or left. */
export const CONNECTIONS_TOPIC = "admin:connections";

/**
 * Who is connected: RPC `connections.list`, fetched when the socket opens and again whenever
 * `connections_changed` arrives on topic `admin:connections` (joined while mounted). No polling.
 * Refreshes that are asked for while one is in flight are coalesced into one more.
 */
export function useConnectionsList(): { data: ConnectionsPublic | null; error: string | null; refresh: () => void } {
  const connection = useConnection();
  const { state } = useConnectionStatus();
  const [data, setData] = useState<ConnectionsPublic | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inFlight = useRef(false);
  const again = useRef(false);
  const mounted = useRef(true);

  const refresh = useCallback(() => {
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    connection
      .rpc<ConnectionsPublic>("connections.list")
      .then(
        (result) => {
          if (!mounted.current) return;
          setData(result);
          setError(null);
        },
        (caught: unknown) => {
          if (mounted.current) setError(caught instanceof Error ? caught.message : String(caught));
        },
      )
      .finally(() => {
        inFlight.current = false;
        if (again.current && mounted.current) {
          again.current = false;
          refresh();
        }
      });
  }, [connection]);

  useEffect(() => {
    mounted.current = true;
    const leave = connection.subscribe(CONNECTIONS_TOPIC);
    return () => {
      mounted.current = false;
      leave();
    };
  }, [connection]);

  // On every (re)connect: the subscription is renewed on open, then the list is read.
  useEffect(() => {
    if (state === "open") refresh();
  }, [state, refresh]);

  useWebSocketEvent("connections_changed", () => refresh());
  useResync(`topic:${CONNECTIONS_TOPIC}`, () => refresh());

  return { data, error, refresh };
}
