/**
 * One open conversation's messages, kept live: the REST snapshot, then the topic's events.
 *
 * Pure functions, so the merge rules are tested without a socket. An event the state cannot
 * place (an answer this page has not seen, asked from another tab; a gap in offsets) asks the
 * caller to read the conversation again.
 */

import type { MessageChunkEvent, MessageEndEvent, RagProgressEvent, Source } from "../../realtime/protocol.gen";
import { mergeChunk } from "./answerText";
import type { ConversationDetail, MessagePublic } from "./chatApi";

/** Where an answer's pipeline stands. */
export interface Progress {
  stage: RagProgressEvent["payload"]["stage"];
  elapsedMs: number;
  message: string;
  sources: Source[];
}

export interface ConversationState {
  messages: MessagePublic[];
  progress: Record<string, Progress>;
}

export type ConversationEvent = RagProgressEvent | MessageChunkEvent | MessageEndEvent;

export const emptyConversation: ConversationState = { messages: [], progress: {} };

/** The state a REST snapshot gives (progress of answers still known is kept). */
export function fromSnapshot(previous: ConversationState, detail: ConversationDetail): ConversationState {
  const progress: Record<string, Progress> = {};
  for (const message of detail.messages) {
    const known = previous.progress[message.id];
    if (known) progress[message.id] = known;
  }
  return { messages: detail.messages, progress };
}

/** Apply one event; `reload` is true when the conversation must be read again. */
export function applyEvent(
  state: ConversationState,
  event: ConversationEvent,
): { state: ConversationState; reload: boolean } {
  const id = event.payload.messageId;
  const index = state.messages.findIndex((m) => m.id === id);
  if (index < 0) return { state, reload: true };
  const message = state.messages[index];
  const replace = (changed: MessagePublic): ConversationState => ({
    ...state,
    messages: state.messages.map((m, i) => (i === index ? changed : m)),
  });
  switch (event.type) {
    case "rag_progress": {
      const { stage, elapsedMs, message: note, sources } = event.payload;
      const previous = state.progress[id];
      const progress: Progress = { stage, elapsedMs, message: note, sources: sources ?? previous?.sources ?? [] };
      return { state: { ...state, progress: { ...state.progress, [id]: progress } }, reload: false };
    }
    case "message_chunk": {
      if (message.status !== "streaming") return { state, reload: false };
      const merged = mergeChunk(message.content, event.payload.offset, event.payload.delta);
      if (merged.kind === "gap") return { state, reload: true };
      if (merged.kind === "duplicate") return { state, reload: false };
      return { state: replace({ ...message, content: merged.text, length: merged.text.length }), reload: false };
    }
    case "message_end": {
      const { status, error, citations, usage, length } = event.payload;
      const ended = replace({ ...message, status, error: error ?? null, citations, usage });
      // Fewer characters than the answer has: something was missed; the stored text is whole.
      return { state: ended, reload: message.content.length < length };
    }
  }
}
