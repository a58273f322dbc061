import type { Source } from "../../realtime/protocol.gen";
import { splitCitations } from "./answerText";
import type { MessagePublic } from "./chatApi";
import type { Progress } from "./conversationState";

const STATUS_TEXT: Record<string, string> = {
  cancelled: "Stopped: the answer so far is kept.",
  interrupted: "Interrupted: the server writing this answer stopped. Ask again.",
};

/**
 * An answer: its text (plain text, never markup: model and document text are untrusted) with
 * each citation `[n]` as a button that opens the cited passage; while it streams, the stage the
 * pipeline is at and a Stop button.
 */
export function AnswerView({
  message,
  progress,
  onCite,
  onStop,
}: {
  message: MessagePublic;
  progress: Progress | undefined;
  onCite: (source: Source) => void;
  onStop: () => void;
}) {
  const streaming = message.status === "streaming";
  const byNumber = new Map<number, Source>();
  for (const source of message.citations.length ? message.citations : (progress?.sources ?? [])) {
    byNumber.set(source.n, source);
  }
  const parts = splitCitations(message.content, new Set(byNumber.keys()));
  return (
    <article className="chat-answer" data-testid="answer" data-status={message.status} aria-busy={streaming}>
      {streaming && (
        <p className="chat-answer__stage" data-testid="answer-stage">
          {progress ? `${progress.message} · ${(progress.elapsedMs / 1000).toFixed(1)} s` : "Starting…"}{" "}
          <button type="button" className="danger" onClick={onStop}>
            Stop
          </button>
        </p>
      )}
      <p className="chat-answer__text" data-testid="answer-text">
        {parts.map((part, i) =>
          part.kind === "text" ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional and never reordered
            <span key={i}>{part.text}</span>
          ) : (
            <button
              // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional and never reordered
              key={i}
              type="button"
              className="chat-cite"
              aria-label={`Source ${part.n}: ${byNumber.get(part.n)?.filename ?? ""}`}
              onClick={() => {
                const source = byNumber.get(part.n);
                if (source) onCite(source);
              }}
            >
              [{part.n}]
            </button>
          ),
        )}
      </p>
      {message.status === "failed" && (
        <p role="alert" className="error">
          The answer failed: {message.error}
        </p>
      )}
      {STATUS_TEXT[message.status] && <p className="muted">{STATUS_TEXT[message.status]}</p>}
    </article>
  );
}
