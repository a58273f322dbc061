import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MessagePublic } from "../components/Chat/chatApi";
import type { Source } from "../realtime/protocol.gen";
import { FakeWebSocket } from "../test/FakeWebSocket";
import { renderWithProviders } from "../test/renderWithProviders";
import { ChatPage } from "./ChatPage";

const SOURCE: Source = {
  n: 1,
  documentId: "d_1",
  filename: "policy.md",
  chunkIndex: 0,
  page: null,
  section: "Refunds",
  start: 0,
  end: 60,
  quote: "Refunds are processed within five business days.",
};

function message(id: string, role: "user" | "assistant", content: string, status = "complete"): MessagePublic {
  return {
    id,
    role,
    content,
    length: content.length,
    status: status as MessagePublic["status"],
    error: null,
    citations: [],
    generator: "openai",
    usage: {},
    createdAt: "2026-12-06T05:00:00Z",
    updatedAt: "2026-12-06T05:00:00Z",
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function fakeServer(routes: Record<string, () => Response>) {
  const calls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const key = `${init?.method ?? "GET"} ${url}`;
      calls.push(key);
      return routes[key]?.() ?? json({ detail: "Not Found" }, 404);
    }),
  );
  return calls;
}

const conversation = {
  id: "c_1",
  title: "Refunds",
  createdAt: "2026-12-06T05:00:00Z",
  updatedAt: "2026-12-06T05:00:00Z",
  streaming: true,
};

function event(seq: number, type: string, payload: object) {
  return {
    type,
    payload: { conversationId: "c_1", messageId: "m_2", ...payload },
    stream: "topic:conversation:c_1",
    seq,
  };
}

beforeEach(() => FakeWebSocket.reset());
afterEach(() => vi.unstubAllGlobals());

describe("ChatPage", () => {
  it("shows the text so far with Stop, drops repeated chunks by offset, and ends with citations", async () => {
    const calls = fakeServer({
      "GET /api/conversations": () => json({ conversations: [conversation], generator: "extractive" }),
      "GET /api/conversations/c_1": () =>
        json({
          conversation,
          messages: [
            message("m_1", "user", "How long do refunds take?"),
            message("m_2", "assistant", "Refunds take <img src=x>", "streaming"),
          ],
        }),
      "POST /api/conversations/c_1/messages/m_2/cancel": () => json({}, 202),
    });
    renderWithProviders(<ChatPage />, { route: "/chat?c=c_1" });
    const socket = FakeWebSocket.last;
    act(() => socket.accept({ "user:1": { epoch: "u", seq: 0 } }));
    const text = await screen.findByTestId("answer-text");
    await waitFor(() => expect(text).toHaveTextContent("Refunds take <img src=x>"));
    expect(text.querySelector("img")).toBeNull();
    expect(screen.getByTestId("generator-note")).toHaveTextContent("provider = llama");
    expect(socket.framesOf("subscribe").map((f) => f.payload.topic)).toContain("conversation:c_1");

    act(() => {
      socket.receive(event(1, "message_chunk", { offset: 0, delta: "Refunds take " }));
      socket.receive(event(2, "message_chunk", { offset: 24, delta: " five days [1]." }));
    });
    expect(text).toHaveTextContent("Refunds take <img src=x> five days [1].");

    fireEvent.click(screen.getByRole("button", { name: "Stop" }));
    await waitFor(() => expect(calls).toContain("POST /api/conversations/c_1/messages/m_2/cancel"));

    act(() =>
      socket.receive(
        event(3, "message_end", { status: "complete", length: 39, citations: [SOURCE], usage: {}, error: null }),
      ),
    );
    const answer = screen.getByTestId("answer");
    expect(answer).toHaveAttribute("data-status", "complete");
    expect(screen.queryByRole("button", { name: "Stop" })).toBeNull();
    fireEvent.click(within(answer).getByRole("button", { name: "Source 1: policy.md" }));
    expect(screen.getByTestId("source-panel")).toHaveTextContent("Refunds are processed within five business days.");
  });
});
