import { describe, expect, it } from "vitest";
import type { MessagePublic } from "./chatApi";
import { applyEvent, type ConversationState, fromSnapshot } from "./conversationState";

function answer(content: string, status: MessagePublic["status"] = "streaming"): MessagePublic {
  return {
    id: "m_2",
    role: "assistant",
    content,
    length: content.length,
    status,
    error: null,
    citations: [],
    generator: "openai",
    usage: {},
    createdAt: "2026-12-06T05:00:00Z",
    updatedAt: "2026-12-06T05:00:00Z",
  };
}

const conversation = { id: "c_1", title: "t", createdAt: "", updatedAt: "", streaming: true };

function state(content: string): ConversationState {
  return fromSnapshot({ messages: [], progress: {} }, { conversation, messages: [answer(content)] });
}

function chunk(offset: number, delta: string) {
  return {
    type: "message_chunk" as const,
    payload: { conversationId: "c_1", messageId: "m_2", offset, delta },
  };
}

describe("applyEvent", () => {
  it("continues the text so far and drops chunks it already holds", () => {
    let current = state("Refunds take");
    for (const event of [chunk(0, "Refunds "), chunk(8, "take five"), chunk(17, " days")]) {
      current = applyEvent(current, event).state;
    }
    expect(current.messages[0].content).toBe("Refunds take five days");
  });

  it("asks for a reload on a gap and on an unknown answer", () => {
    expect(applyEvent(state("abc"), chunk(9, "x")).reload).toBe(true);
    const other = { ...chunk(0, "x"), payload: { ...chunk(0, "x").payload, messageId: "m_9" } };
    expect(applyEvent(state("abc"), other).reload).toBe(true);
  });

  it("ends the answer with its citations and reloads if text is missing", () => {
    const end = {
      type: "message_end" as const,
      payload: {
        conversationId: "c_1",
        messageId: "m_2",
        status: "cancelled" as const,
        length: 10,
        citations: [],
        usage: {},
      },
    };
    const { state: ended, reload } = applyEvent(state("abc"), end);
    expect(ended.messages[0].status).toBe("cancelled");
    expect(reload).toBe(true);
  });
});
