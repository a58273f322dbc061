import type { DocumentPublic } from "../../lib/api";
import { clampProgress, STATUS_LABELS } from "./format";

/**
 * A document's processing status: the plan's `DocumentStatusDisplay`, minus its
 * `lastMessage` effect. It renders what it is given; the state lives in `documentsReducer`,
 * fed by `useWebSocketEvent`, so no event is lost between two renders.
 */
export function DocumentStatusDisplay({ document }: { document: DocumentPublic }) {
  const progress = clampProgress(document.progress);
  return (
    <div className={`document-status document-status--${document.status}`}>
      <div className="document-status__line">
        <span className="document-status__label" data-testid="document-status">
          {STATUS_LABELS[document.status]}
        </span>
        <progress
          className="document-status__bar"
          max={100}
          value={progress}
          aria-valuenow={progress}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-label={`Processing of ${document.filename}`}
        />
        <span className="document-status__percent">{progress}%</span>
      </div>
      {document.message && (
        <p className="document-status__message muted" data-testid="document-message">
          {document.message}
        </p>
      )}
      {document.status === "failed" && (
        <p className="document-status__error error" data-testid="document-error">
          {document.error ?? "Processing failed."}
        </p>
      )}
    </div>
  );
}
