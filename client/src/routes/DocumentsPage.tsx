/** `/documents`: placeholder until the documents feature lands. */
export function DocumentsPage() {
  return (
    <section aria-labelledby="documents-title">
      <h1 id="documents-title">Documents</h1>
      <p className="muted">Upload and processing of documents will appear here.</p>
    </section>
  );
}
