import type { DocumentPublic } from "../../lib/api";
import { DocumentRow } from "./DocumentRow";

/** The user's documents, newest first, one live row each. */
export function DocumentsTable({
  documents,
  loaded,
  onDeleted,
}: {
  documents: DocumentPublic[];
  loaded: boolean;
  onDeleted: (id: string) => void;
}) {
  return (
    <table data-testid="documents-list" className="table documents-table" aria-busy={!loaded}>
      <caption>
        {!loaded
          ? "Loading documents…"
          : documents.length === 0
            ? "No documents yet. Upload one to get started."
            : `${documents.length} ${documents.length === 1 ? "document" : "documents"}`}
      </caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Kind</th>
          <th scope="col">Size</th>
          <th scope="col">Status</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {documents.map((document) => (
          <DocumentRow key={document.id} document={document} onDeleted={onDeleted} />
        ))}
      </tbody>
    </table>
  );
}
