import type { Source } from "../../realtime/protocol.gen";

/** Where a passage sits: file, page, section. */
export function describeSource(source: Source): string {
  return [source.filename, source.page != null ? `page ${source.page}` : null, source.section]
    .filter(Boolean)
    .join(" · ");
}

/**
 * The passage a citation points at, as plain text, with a link that opens the original file
 * (at the page, for a PDF).
 */
export function SourcePanel({ source, onClose }: { source: Source; onClose: () => void }) {
  const page = source.page != null ? `#page=${source.page}` : "";
  return (
    <aside className="chat-source" aria-label={`Source ${source.n}`} data-testid="source-panel">
      <header>
        <h2>
          [{source.n}] {describeSource(source)}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close the source">
          ×
        </button>
      </header>
      <blockquote className="chat-source__quote">{source.quote}</blockquote>
      <a
        href={`/api/documents/${encodeURIComponent(source.documentId)}/file${page}`}
        target="_blank"
        rel="noopener noreferrer"
      >
        Open {source.filename}
      </a>
    </aside>
  );
}
