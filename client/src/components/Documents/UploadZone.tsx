import { type DragEvent, useEffect, useId, useRef, useState } from "react";
import { DOCUMENT_EXTENSIONS, type DocumentPublic, uploadDocuments } from "../../lib/api";
import { uploadErrorMessage } from "./uploadError";

type UploadState =
  | { phase: "idle" }
  | { phase: "uploading"; count: number; percent: number }
  | { phase: "done"; count: number }
  | { phase: "failed"; error: string };

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/**
 * Drop files here or pick them with the "Upload documents" button; all of them go in one
 * `POST /api/documents`, with a progress bar while the bytes are sent. `onBusy(true)` is called
 * when an upload starts and `onBusy(false)` when it ends (after `onUploaded`, if it succeeded).
 */
export function UploadZone({
  onUploaded,
  onBusy,
}: {
  onUploaded: (documents: DocumentPublic[]) => void;
  onBusy?: (busy: boolean) => void;
}) {
  const inputId = useId();
  const [state, setState] = useState<UploadState>({ phase: "idle" });
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const controller = useRef<AbortController | null>(null);
  const uploading = state.phase === "uploading";

  useEffect(() => () => controller.current?.abort(), []);

  const upload = async (files: File[]) => {
    if (files.length === 0 || controller.current) return;
    const current = new AbortController();
    controller.current = current;
    onBusy?.(true);
    setState({ phase: "uploading", count: files.length, percent: 0 });
    try {
      const documents = await uploadDocuments(files, {
        signal: current.signal,
        onProgress: ({ loaded, total }) => {
          if (total === null || total === 0) return;
          const percent = Math.min(100, Math.round((loaded / total) * 100));
          setState((s) => (s.phase === "uploading" ? { ...s, percent } : s));
        },
      });
      onUploaded(documents);
      setState({ phase: "done", count: documents.length });
    } catch (caught) {
      setState(isAbort(caught) ? { phase: "idle" } : { phase: "failed", error: uploadErrorMessage(caught) });
    } finally {
      if (controller.current === current) controller.current = null;
      // Let the same file be picked again after a failure.
      if (input.current) input.current.value = "";
      onBusy?.(false);
    }
  };

  const dragOver = (event: DragEvent<HTMLElement>) => {
    if (!Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = uploading ? "none" : "copy";
    setDragging(true);
  };

  const drop = (event: DragEvent<HTMLElement>) => {
    event.preventDefault();
    setDragging(false);
    if (!uploading) void upload(Array.from(event.dataTransfer.files));
  };

  return (
    <section className="upload" aria-labelledby="upload-title">
      <h2 id="upload-title" className="visually-hidden">
        Upload
      </h2>
      <section
        className={`upload-zone${dragging ? " upload-zone--over" : ""}`}
        data-testid="upload-dropzone"
        aria-label="Drop zone for files"
        onDragEnter={dragOver}
        onDragOver={dragOver}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        <p className="upload-zone__hint">
          Drag and drop files here, or
          <label htmlFor={inputId} className={`upload-zone__button${uploading ? " upload-zone__button--busy" : ""}`}>
            Upload documents
          </label>
          <input
            id={inputId}
            ref={input}
            type="file"
            multiple
            className="visually-hidden"
            data-testid="upload-input"
            accept={DOCUMENT_EXTENSIONS.join(",")}
            disabled={uploading}
            onChange={(event) => void upload(Array.from(event.target.files ?? []))}
          />
        </p>
        <p className="muted upload-zone__types">PDF, DOCX, HTML, Markdown or plain text. Several at once is fine.</p>
      </section>
      {state.phase === "uploading" && (
        <div className="upload__progress" data-testid="upload-progress">
          <progress
            max={100}
            value={state.percent}
            aria-valuenow={state.percent}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-label="Upload progress"
          />
          <span>
            Uploading {state.count} {state.count === 1 ? "file" : "files"}… {state.percent}%
          </span>
          <button type="button" onClick={() => controller.current?.abort()}>
            Cancel
          </button>
        </div>
      )}
      {state.phase === "done" && (
        <p role="status" data-testid="upload-result">
          Uploaded {state.count} {state.count === 1 ? "document" : "documents"}; processing has started.
        </p>
      )}
      {state.phase === "failed" && (
        <p role="alert" className="error" data-testid="upload-error">
          {state.error}
        </p>
      )}
    </section>
  );
}
