import { useCallback, useEffect, useRef, useState } from "react";
import { useConnectionStatus, useResync, useWebSocketEvent } from "../../contexts/WebSocketContext";
import { type ConversationPublic, listConversations } from "./chatApi";

/** What {@link useConversations} returns. */
export interface ConversationsList {
  /** Newest activity first. */
  conversations: ConversationPublic[];
  /** `[llm] provider`, once loaded. */
  generator: string | null;
  error: string | null;
  /** Put a conversation this tab created or renamed in place. */
  upsert: (conversation: ConversationPublic) => void;
}

function byActivity(a: ConversationPublic, b: ConversationPublic): number {
  return b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id);
}

/**
 * The user's conversations, live in every tab: read over REST on mount, on the socket's first
 * open and on a resync of `user:<id>`; between those, `conversation_update` events (which every
 * socket of the user receives) add, rename, reorder and remove entries.
 */
export function useConversations(): ConversationsList {
  const [conversations, setConversations] = useState<ConversationPublic[]>([]);
  const [generator, setGenerator] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { state } = useConnectionStatus();
  const mounted = useRef(true);
  // `conversation_update` events received so far: a list read while one arrived may predate it
  // (a REST answer can overtake the event of a change made after its read), so it is read again.
  const updates = useRef(0);

  const refresh = useCallback(() => {
    const seen = updates.current;
    listConversations().then(
      (list) => {
        if (!mounted.current) return;
        if (updates.current !== seen) {
          refresh();
          return;
        }
        setConversations([...list.conversations].sort(byActivity));
        setGenerator(list.generator);
        setError(null);
      },
      (caught: unknown) => {
        if (mounted.current) setError(caught instanceof Error ? caught.message : String(caught));
      },
    );
  }, []);

  useEffect(() => {
    mounted.current = true;
    refresh();
    return () => {
      mounted.current = false;
    };
  }, [refresh]);
  useEffect(() => {
    if (state === "open") refresh();
  }, [state, refresh]);
  useResync("user", () => refresh());

  const upsert = useCallback((conversation: ConversationPublic) => {
    setConversations((list) => [conversation, ...list.filter((c) => c.id !== conversation.id)].sort(byActivity));
  }, []);

  useWebSocketEvent("conversation_update", ({ payload }) => {
    updates.current += 1;
    if (payload.deleted) {
      setConversations((list) => list.filter((c) => c.id !== payload.conversationId));
      return;
    }
    setConversations((list) => {
      const known = list.find((c) => c.id === payload.conversationId);
      const updated: ConversationPublic = {
        id: payload.conversationId,
        title: payload.title,
        createdAt: known?.createdAt ?? payload.updatedAt,
        updatedAt: payload.updatedAt,
        streaming: payload.streaming ?? false,
      };
      return [updated, ...list.filter((c) => c.id !== payload.conversationId)].sort(byActivity);
    });
  });

  return { conversations, generator, error, upsert };
}
