import { useState } from "react";
import { useSearchParams } from "react-router";
import { AnswerView } from "../components/Chat/AnswerView";
import { ConversationList } from "../components/Chat/ConversationList";
import {
  ask,
  createConversation,
  deleteConversation,
  renameConversation,
  stopAnswer,
} from "../components/Chat/chatApi";
import { GeneratorNote } from "../components/Chat/GeneratorNote";
import { SourcePanel } from "../components/Chat/SourcePanel";
import { useConversation } from "../components/Chat/useConversation";
import { useConversations } from "../components/Chat/useConversations";
import type { Source } from "../realtime/protocol.gen";
import "../components/Chat/Chat.css";

function messageOf(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}

/**
 * `/chat?c=<id>`: questions answered from the user's documents, streamed live. The open
 * conversation is in the URL, so a reload comes back to it and shows the answer so far, still
 * streaming, with its Stop button.
 */
export function ChatPage() {
  const [params, setParams] = useSearchParams();
  const selected = params.get("c");
  const list = useConversations();
  const open = useConversation(selected);
  const [question, setQuestion] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [source, setSource] = useState<Source | null>(null);
  const select = (id: string | null) => {
    setSource(null);
    setParams(id ? { c: id } : {});
  };
  const streaming = open.messages.some((m) => m.status === "streaming");

  const run = (work: () => Promise<unknown>) => {
    setProblem(null);
    work().catch((caught: unknown) => setProblem(messageOf(caught)));
  };

  const submit = () =>
    run(async () => {
      let id = selected;
      if (!id) {
        const created = await createConversation();
        list.upsert(created);
        id = created.id;
        select(id);
      }
      const asked = await ask(id, question);
      setQuestion("");
      open.asked({ messages: [asked.message, asked.answer] });
    });

  return (
    <section aria-labelledby="chat-title" className="chat">
      <div className="chat__side">
        <h1 id="chat-title">Chat</h1>
        <button type="button" className="primary" onClick={() => select(null)}>
          New conversation
        </button>
        {list.error && <p className="error">Could not load your conversations: {list.error}</p>}
        <ConversationList
          conversations={list.conversations}
          selected={selected}
          onSelect={select}
          onRename={(id, title) => run(async () => list.upsert(await renameConversation(id, title)))}
          onDelete={(id) =>
            run(async () => {
              await deleteConversation(id);
              if (id === selected) select(null);
            })
          }
        />
      </div>
      <div className="chat__main">
        <GeneratorNote generator={list.generator} />
        {open.error && <p className="error">Could not load the conversation: {open.error}</p>}
        <ol className="chat-messages" data-testid="messages">
          {open.messages.map((m) => (
            <li key={m.id} className={`chat-message chat-message--${m.role}`}>
              {m.role === "user" ? (
                <p className="chat-question">{m.content}</p>
              ) : (
                <AnswerView
                  message={m}
                  progress={open.progress[m.id]}
                  onCite={setSource}
                  onStop={() => run(() => stopAnswer(selected ?? "", m.id))}
                />
              )}
            </li>
          ))}
        </ol>
        {!selected && <p className="muted">Ask a question about your documents to start a conversation.</p>}
        <form
          className="chat-composer"
          onSubmit={(event) => {
            event.preventDefault();
            if (question.trim()) submit();
          }}
        >
          <label htmlFor="chat-question" className="visually-hidden">
            Your question
          </label>
          <textarea
            id="chat-question"
            value={question}
            maxLength={4000}
            placeholder="Ask about your documents"
            onChange={(e) => setQuestion(e.target.value)}
          />
          <button type="submit" className="primary" disabled={streaming || !question.trim()}>
            Ask
          </button>
        </form>
        {problem && (
          <p role="alert" className="error">
            {problem}
          </p>
        )}
      </div>
      {source && <SourcePanel source={source} onClose={() => setSource(null)} />}
    </section>
  );
}
