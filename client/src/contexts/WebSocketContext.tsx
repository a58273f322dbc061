/**
 * One realtime connection per tab, open while someone is signed in.
 *
 * The {@link Connection} is a plain class; this provider creates it once (react-use-websocket's
 * `share: true`, made explicit), connects and disconnects it with the session, and mirrors its
 * state for rendering. Components listen with {@link useWebSocketEvent}, which registers a
 * listener on the connection, so every frame reaches them even when many arrive in one tick.
 */

import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { Connection } from "../realtime/connection";
import type { ClientFrame, ServerFrame } from "../realtime/protocol.gen";
import type { ReplyPayload } from "../realtime/requests";
import type { ConnectionState } from "../realtime/state";
import { useAuth } from "./AuthContext";

/** The connection's state, as rendered. */
export interface ConnectionStatus {
  state: ConnectionState;
  /** When the next attempt starts (ms since the epoch), while `reconnecting`. */
  retryAt: number | null;
  /** Why the state last changed, in words. */
  reason: string;
}

/** What {@link useWebSocket} returns. */
export interface WebSocketValue extends ConnectionStatus {
  /** The last frame delivered; prefer {@link useWebSocketEvent}, which sees every frame. */
  lastMessage: ServerFrame | null;
  send: (frame: ClientFrame) => boolean;
  request: <F extends ClientFrame>(frame: F, timeoutMs?: number) => Promise<ReplyPayload<F>>;
  /** Join a topic until the returned cleanup runs (return it from `useEffect`). */
  subscribe: (topic: string) => () => void;
  connection: Connection;
}

const ConnectionContext = createContext<Connection | null>(null);
const StatusContext = createContext<ConnectionStatus | null>(null);
const LastMessageContext = createContext<ServerFrame | null>(null);

/** The URL of the socket, on this page's origin. */
export function socketUrl(): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}

function statusOf(connection: Connection, reason = ""): ConnectionStatus {
  return { state: connection.state, retryAt: connection.retryAt, reason };
}

/** Creates this tab's connection and connects it while the user is signed in. */
export function WebSocketProvider({
  children,
  createConnection,
}: {
  children: ReactNode;
  /** Builds the connection; tests pass one over a fake socket. */
  createConnection?: () => Connection;
}) {
  const [connection] = useState(() => (createConnection ? createConnection() : new Connection({ url: socketUrl })));
  const [status, setStatus] = useState<ConnectionStatus>(() => statusOf(connection));
  const [lastMessage, setLastMessage] = useState<ServerFrame | null>(null);
  const { status: authStatus, recheck, endSession } = useAuth();

  useEffect(() => {
    const offState = connection.on("state", (change) => {
      setStatus({ state: change.newState, retryAt: change.retryAt, reason: change.reason });
      if (change.newState === "closed_auth") endSession("Your session ended: you were signed out elsewhere.");
    });
    const offClose = connection.on("close", ({ code, wasOpen }) => {
      // A refused upgrade (401 without a valid session) shows only as 1006 before open.
      if (!wasOpen && code === 1006) void recheck();
    });
    const offMessage = connection.on("message", setLastMessage);
    setStatus(statusOf(connection));
    return () => {
      offState();
      offClose();
      offMessage();
    };
  }, [connection, endSession, recheck]);

  useEffect(() => {
    if (authStatus === "signed_in") connection.connect();
    else if (authStatus === "signed_out") connection.disconnect();
  }, [authStatus, connection]);

  useEffect(() => () => connection.disconnect(), [connection]);

  return (
    <ConnectionContext.Provider value={connection}>
      <StatusContext.Provider value={status}>
        <LastMessageContext.Provider value={lastMessage}>{children}</LastMessageContext.Provider>
      </StatusContext.Provider>
    </ConnectionContext.Provider>
  );
}

/** This tab's connection. */
export function useConnection(): Connection {
  const connection = useContext(ConnectionContext);
  if (!connection) throw new Error("useConnection() must be used inside <WebSocketProvider>");
  return connection;
}

/** The connection's state, for rendering (re-renders on state changes only). */
export function useConnectionStatus(): ConnectionStatus {
  const status = useContext(StatusContext);
  if (!status) throw new Error("useConnectionStatus() must be used inside <WebSocketProvider>");
  return status;
}

/** State, last message and the ways to talk to the server. */
export function useWebSocket(): WebSocketValue {
  const connection = useConnection();
  const status = useConnectionStatus();
  const lastMessage = useContext(LastMessageContext);
  const send = useCallback((frame: ClientFrame) => connection.send(frame), [connection]);
  const request = useCallback(
    <F extends ClientFrame>(frame: F, timeoutMs?: number) => connection.request(frame, timeoutMs),
    [connection],
  );
  const subscribe = useCallback((topic: string) => connection.subscribe(topic), [connection]);
  return useMemo(
    () => ({ ...status, lastMessage, send, request, subscribe, connection }),
    [status, lastMessage, send, request, subscribe, connection],
  );
}

/** The frame of type `T`. */
export type FrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/**
 * Call `handler` with every server frame of type `type` (that passes `filter`).
 *
 * The latest handler and filter are kept in a ref, so passing inline functions neither
 * re-registers the listener nor misses frames.
 */
export function useWebSocketEvent<T extends ServerFrame["type"]>(
  type: T,
  handler: (frame: FrameOf<T>) => void,
  filter?: (frame: FrameOf<T>) => boolean,
): void {
  const connection = useConnection();
  const latest = useRef({ handler, filter });
  useLayoutEffect(() => {
    latest.current = { handler, filter };
  });
  useEffect(
    () =>
      connection.on("message", (frame) => {
        if (frame.type !== type) return;
        const typed = frame as FrameOf<T>;
        const { handler: current, filter: accept } = latest.current;
        if (accept && !accept(typed)) return;
        current(typed);
      }),
    [connection, type],
  );
}

/**
 * Call `handler` when `stream` (a name like `user:7`, or a prefix like `topic:document`) must be
 * refetched over REST because the server could not replay what was missed.
 */
export function useResync(stream: string, handler: (stream: string) => void): void {
  const connection = useConnection();
  const latest = useRef(handler);
  useLayoutEffect(() => {
    latest.current = handler;
  });
  useEffect(() => connection.onResync(stream, (name) => latest.current(name)), [connection, stream]);
}
