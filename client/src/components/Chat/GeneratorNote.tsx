/** Says how answers are written; for the extractive default, how to switch to a model. */
export function GeneratorNote({ generator }: { generator: string | null }) {
  if (generator !== "extractive") return null;
  return (
    <p className="chat-note" data-testid="generator-note">
      Answers are <strong>extractive</strong>: the best sentences of your documents, quoted with their sources, without
      a language model. To have a model write them, set <code>provider = llama</code> (a small model on this server) or{" "}
      <code>provider = openai</code> (any OpenAI-compatible endpoint) in the <code>[llm]</code> section of{" "}
      <code>conf/config.ini</code>, or <code>PRODUCTDEMO_LLM_PROVIDER</code>, and restart the server.
    </p>
  );
}
