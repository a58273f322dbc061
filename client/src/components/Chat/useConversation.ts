import { useCallback, useEffect, useRef, useState } from "react";
import { useConnection, useResync, useWebSocketEvent } from "../../contexts/WebSocketContext";
import { type ConversationDetail, readConversation } from "./chatApi";
import {
  applyEvent,
  type ConversationEvent,
  type ConversationState,
  emptyConversation,
  fromSnapshot,
} from "./conversationState";

const REREAD_MS = 1000;

/** What {@link useConversation} returns. */
export interface OpenConversation extends ConversationState {
  loaded: boolean;
  error: string | null;
  /** Add what `POST …/messages` answered, before its first event arrives. */
  asked: (detail: Pick<ConversationDetail, "messages">) => void;
}

/**
 * One conversation, live. The page subscribes to `conversation:<id>` first and then reads the
 * conversation over REST, so nothing sent in between is lost: events that arrive during a read
 * wait and are applied on top of its snapshot, where offsets drop what the snapshot already has.
 * A gap, an answer this page has not seen (asked from another tab), or a resync of the topic
 * reads the conversation again.
 */
export function useConversation(id: string | null): OpenConversation {
  const connection = useConnection();
  const [state, setState] = useState<ConversationState>(emptyConversation);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The state as of the last event, read synchronously by the next one (React state lags).
  const latest = useRef<ConversationState>(emptyConversation);
  const waiting = useRef<ConversationEvent[] | null>(null);
  const current = useRef(id);
  current.current = id;

  const commit = useCallback((next: ConversationState) => {
    latest.current = next;
    setState(next);
  }, []);

  const lastRead = useRef(0);
  const readTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const readRef = useRef<() => void>(() => {});
  // A read asked for by an event (a gap, an unknown answer): at most one a second, because the
  // snapshot may lag the stream (another instance serves the text saved at its last renewal).
  const readSoon = useCallback(() => {
    if (readTimer.current) return;
    const wait = lastRead.current + REREAD_MS - Date.now();
    readTimer.current = setTimeout(
      () => {
        readTimer.current = null;
        readRef.current();
      },
      Math.max(0, wait),
    );
  }, []);

  const read = useCallback(() => {
    const reading = current.current;
    if (!reading || waiting.current) return;
    lastRead.current = Date.now();
    waiting.current = [];
    readConversation(reading).then(
      (detail) => {
        if (current.current !== reading) return;
        const events = waiting.current ?? [];
        waiting.current = null;
        const known = new Set(detail.messages.map((m) => m.id));
        let next = fromSnapshot(latest.current, detail);
        let again = false;
        for (const event of events) {
          // An answer begun after this read started: read once more to get it.
          if (!known.has(event.payload.messageId)) {
            again = true;
            continue;
          }
          const result = applyEvent(next, event);
          next = result.state;
          again ||= result.reload;
        }
        commit(next);
        setLoaded(true);
        setError(null);
        if (again) readSoon();
      },
      (caught: unknown) => {
        waiting.current = null;
        if (current.current === reading) setError(caught instanceof Error ? caught.message : String(caught));
      },
    );
  }, [commit, readSoon]);
  readRef.current = read;

  useEffect(() => {
    commit(emptyConversation);
    setLoaded(false);
    setError(null);
    waiting.current = null;
    if (!id) return;
    const leave = connection.subscribe(`conversation:${id}`);
    read();
    return () => {
      leave();
      if (readTimer.current) clearTimeout(readTimer.current);
      readTimer.current = null;
    };
  }, [connection, id, read, commit]);

  useResync(`topic:conversation:${id ?? ""}`, () => read());

  const onEvent = useCallback(
    (event: ConversationEvent) => {
      if (event.payload.conversationId !== current.current) return;
      if (waiting.current) {
        waiting.current.push(event);
        return;
      }
      const result = applyEvent(latest.current, event);
      commit(result.state);
      if (result.reload) readSoon();
    },
    [readSoon, commit],
  );
  useWebSocketEvent("rag_progress", onEvent);
  useWebSocketEvent("message_chunk", onEvent);
  useWebSocketEvent("message_end", onEvent);

  const asked = useCallback(
    (detail: Pick<ConversationDetail, "messages">) => {
      const previous = latest.current;
      const known = new Set(previous.messages.map((m) => m.id));
      commit({ ...previous, messages: [...previous.messages, ...detail.messages.filter((m) => !known.has(m.id))] });
    },
    [commit],
  );

  return { ...state, loaded, error, asked };
}
