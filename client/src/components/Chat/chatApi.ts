/** The chat's REST calls (`/api/conversations`), same origin, session cookie. */

import { call } from "../../lib/api";
import type { MessageEndPayload, Source, Usage } from "../../realtime/protocol.gen";

/** A conversation in the list. */
export interface ConversationPublic {
  id: string;
  title: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601; the list is ordered by it, newest first. */
  updatedAt: string;
  /** An answer is being written in it. */
  streaming: boolean;
}

/** A message's status: an answer streams, then ends. */
export type MessageStatus = "complete" | "streaming" | MessageEndPayload["status"];

/** A question or an answer. */
export interface MessagePublic {
  id: string;
  role: "user" | "assistant";
  /** For a streaming answer: the text so far. */
  content: string;
  /** `content`'s length in UTF-16 units: where live chunks continue it. */
  length: number;
  status: MessageStatus;
  error: string | null;
  citations: Source[];
  generator: string | null;
  usage: Usage;
  createdAt: string;
  updatedAt: string;
}

/** `GET /api/conversations`. */
export interface ConversationsPublic {
  conversations: ConversationPublic[];
  /** `[llm] provider`: `extractive`, `llama` or `openai`. */
  generator: string;
}

/** `GET /api/conversations/{id}`. */
export interface ConversationDetail {
  conversation: ConversationPublic;
  messages: MessagePublic[];
}

export function listConversations(): Promise<ConversationsPublic> {
  return call<ConversationsPublic>("GET", "/api/conversations");
}

export async function createConversation(title?: string): Promise<ConversationPublic> {
  return (await call<{ conversation: ConversationPublic }>("POST", "/api/conversations", { title })).conversation;
}

export function readConversation(id: string): Promise<ConversationDetail> {
  return call<ConversationDetail>("GET", `/api/conversations/${encodeURIComponent(id)}`);
}

export async function renameConversation(id: string, title: string): Promise<ConversationPublic> {
  const path = `/api/conversations/${encodeURIComponent(id)}`;
  return (await call<{ conversation: ConversationPublic }>("PATCH", path, { title })).conversation;
}

export function deleteConversation(id: string): Promise<void> {
  return call<void>("DELETE", `/api/conversations/${encodeURIComponent(id)}`);
}

/** `POST …/messages`: the stored question and the answer that starts streaming. */
export function ask(id: string, content: string): Promise<{ message: MessagePublic; answer: MessagePublic }> {
  return call("POST", `/api/conversations/${encodeURIComponent(id)}/messages`, { content });
}

/** `POST …/messages/{messageId}/cancel`: Stop. */
export async function stopAnswer(id: string, messageId: string): Promise<void> {
  const path = `/api/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/cancel`;
  await call<unknown>("POST", path);
}
