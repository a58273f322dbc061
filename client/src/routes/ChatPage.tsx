/** `/chat`: placeholder until the chat (RAG) feature lands. */
export function ChatPage() {
  return (
    <section aria-labelledby="chat-title">
      <h1 id="chat-title">Chat</h1>
      <p className="muted">Questions answered from your documents will appear here.</p>
    </section>
  );
}
