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

  const read = useCallback(() => {
    const reading = current.current;
    if (!reading || waiting.current) return;
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
        if (again) read();
      },
      (caught: unknown) => {
        waiting.current = null;
        if (current.current === reading) setError(caught instanceof Error ? caught.message : String(caught));
      },
    );
  }, [commit]);

  useEffect(() => {
    commit(emptyConversation);
    setLoaded(false);
    setError(null);
    waiting.current = null;
    if (!id) return;
    const leave = connection.subscribe(`conversation:${id}`);
    read();
    return leave;
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
      if (result.reload) read();
    },
    [read, commit],
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
