import { useState } from "react";
import type { ConversationPublic } from "./chatApi";

/** The user's conversations, newest activity first; the selected one is marked `aria-current`. */
export function ConversationList({
  conversations,
  selected,
  onSelect,
  onRename,
  onDelete,
}: {
  conversations: ConversationPublic[];
  selected: string | null;
  onSelect: (id: string) => void;
  onRename: (id: string, title: string) => void;
  onDelete: (id: string) => void;
}) {
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  if (conversations.length === 0) return <p className="muted">No conversations yet.</p>;
  return (
    <ul className="chat-list" data-testid="conversation-list">
      {conversations.map((c) => (
        <li key={c.id} className={c.id === selected ? "chat-list__item chat-list__item--current" : "chat-list__item"}>
          {editing === c.id ? (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                onRename(c.id, draft);
                setEditing(null);
              }}
            >
              <input aria-label="New title" value={draft} maxLength={200} onChange={(e) => setDraft(e.target.value)} />
              <button type="submit">Save</button>
            </form>
          ) : (
            <>
              <button
                type="button"
                className="chat-list__title"
                aria-current={c.id === selected ? "page" : undefined}
                onClick={() => onSelect(c.id)}
              >
                {c.title}
                {c.streaming && <span className="chat-list__live"> · answering…</span>}
              </button>
              <button
                type="button"
                className="chat-list__action"
                aria-label={`Rename ${c.title}`}
                onClick={() => {
                  setDraft(c.title);
                  setEditing(c.id);
                }}
              >
                ✎
              </button>
              <button
                type="button"
                className="chat-list__action"
                aria-label={`Delete ${c.title}`}
                onClick={() => onDelete(c.id)}
              >
                ×
              </button>
            </>
          )}
        </li>
      ))}
    </ul>
  );
}
