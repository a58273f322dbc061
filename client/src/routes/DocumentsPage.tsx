import { DocumentSearch } from "../components/Documents/DocumentSearch";
import { DocumentsTable } from "../components/Documents/DocumentsTable";
import { UploadZone } from "../components/Documents/UploadZone";
import { useDocuments } from "../components/Documents/useDocuments";
import "../components/Documents/Documents.css";

/** `/documents`: upload, live processing status, download, delete and search. No polling. */
export function DocumentsPage() {
  const { documents, loaded, error, added, uploading, removed, refresh } = useDocuments();
  return (
    <section aria-labelledby="documents-title" className="documents">
      <h1 id="documents-title">Documents</h1>
      <UploadZone onUploaded={added} onBusy={uploading} />
      <DocumentSearch />
      <section aria-labelledby="documents-list-title">
        <h2 id="documents-list-title">Your documents</h2>
        {error && (
          <p role="alert" className="error" data-testid="documents-error">
            Could not load your documents: {error}{" "}
            <button type="button" onClick={refresh}>
              Try again
            </button>
          </p>
        )}
        <DocumentsTable documents={documents} loaded={loaded} onDeleted={removed} />
      </section>
    </section>
  );
}
