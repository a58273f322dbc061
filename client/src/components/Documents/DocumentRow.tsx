import { useState } from "react";
import { ApiError, type DocumentPublic, deleteDocument, documentFileUrl } from "../../lib/api";
import { DocumentStatusDisplay } from "./DocumentStatusDisplay";
import { formatSize } from "./format";

/** One document: name, kind, size, live status, download and delete (asks first). */
export function DocumentRow({ document, onDeleted }: { document: DocumentPublic; onDeleted: (id: string) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const remove = async () => {
    setDeleting(true);
    setError(null);
    try {
      await deleteDocument(document.id);
      onDeleted(document.id);
    } catch (caught) {
      // 404: it is already gone (deleted from another tab).
      if (caught instanceof ApiError && caught.status === 404) onDeleted(document.id);
      else {
        setError(`Could not delete: ${caught instanceof Error ? caught.message : String(caught)}`);
        setDeleting(false);
        setConfirming(false);
      }
    }
  };

  return (
    <tr data-testid="document-row" data-document-id={document.id} data-status={document.status}>
      <td className="document-row__name">
        <span data-testid="document-filename">{document.filename}</span>
      </td>
      <td className="document-row__kind">{document.kind.toUpperCase()}</td>
      <td className="document-row__size">{formatSize(document.size)}</td>
      <td className="document-row__status">
        <DocumentStatusDisplay document={document} />
      </td>
      <td className="document-row__actions">
        <a
          href={documentFileUrl(document.id)}
          download={document.filename}
          aria-label={`Download ${document.filename}`}
        >
          Download
        </a>
        {confirming ? (
          <span className="document-row__confirm">
            <span>Delete?</span>
            <button
              type="button"
              className="button--danger"
              data-testid="document-delete-confirm"
              aria-label={`Confirm deleting ${document.filename}`}
              disabled={deleting}
              onClick={() => void remove()}
            >
              {deleting ? "Deleting…" : "Yes, delete"}
            </button>
            <button
              type="button"
              data-testid="document-delete-cancel"
              disabled={deleting}
              onClick={() => setConfirming(false)}
            >
              Cancel
            </button>
          </span>
        ) : (
          <button
            type="button"
            data-testid="document-delete"
            aria-label={`Delete ${document.filename}`}
            onClick={() => setConfirming(true)}
          >
            Delete
          </button>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </td>
    </tr>
  );
}
