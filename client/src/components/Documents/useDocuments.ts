import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { useConnection, useConnectionStatus, useResync, useWebSocketEvent } from "../../contexts/WebSocketContext";
import { type DocumentPublic, getDocument, listDocuments } from "../../lib/api";
import { documentsReducer, initialDocumentsState, selectDocuments, selectUnknownIds } from "./documentsReducer";

/** What {@link useDocuments} returns. */
export interface DocumentsList {
  /** Newest first. */
  documents: DocumentPublic[];
  /** False until the first `GET /api/documents` has answered. */
  loaded: boolean;
  /** Why the last `GET /api/documents` failed, or null. */
  error: string | null;
  /** Add the documents an upload created. */
  added: (documents: readonly DocumentPublic[]) => void;
  /** An upload from this tab started (`true`) or ended, answered or not (`false`). */
  uploading: (busy: boolean) => void;
  /** Drop a document that was deleted from this tab. */
  removed: (documentId: string) => void;
  /** Read `GET /api/documents` again (the "Try again" after a failed load). */
  refresh: () => void;
}

function messageOf(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}

/**
 * The signed-in user's documents, kept live without polling.
 *
 * `GET /api/documents` is read on mount and again whenever the server says the user's stream
 * lost history (resync). If the socket was not yet open at mount, it is read once more when it
 * first opens, because events sent before the first `hello` are not replayed. Between those,
 * `document_status_update` and `document_deleted` events (every one of them, via
 * {@link useWebSocketEvent}) drive {@link documentsReducer}. An event for an unknown id (an
 * upload from another tab) fetches `GET /api/documents/{id}`, but not while this tab's own
 * upload is in flight: the server announces new documents before it answers the upload, and
 * the answer brings them, so only ids still unknown after it are fetched.
 */
export function useDocuments(): DocumentsList {
  const connection = useConnection();
  const { state: connectionState } = useConnectionStatus();
  const [state, dispatch] = useReducer(documentsReducer, initialDocumentsState);
  const [error, setError] = useState<string | null>(null);
  const [uploads, setUploads] = useState(0);
  const mounted = useRef(true);
  const inFlight = useRef(false);
  const again = useRef(false);
  const fetching = useRef(new Set<string>());
  const openedSinceMount = useRef(connection.state === "open");

  const refresh = useCallback(() => {
    // A refresh asked for while one is in flight runs once after it, never in parallel.
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    dispatch({ type: "snapshot_requested" });
    listDocuments()
      .then(
        (documents) => {
          if (!mounted.current) return;
          dispatch({ type: "snapshot_loaded", documents });
          setError(null);
        },
        (caught: unknown) => {
          if (mounted.current) setError(messageOf(caught));
        },
      )
      .finally(() => {
        inFlight.current = false;
        if (again.current && mounted.current) {
          again.current = false;
          refresh();
        }
      });
  }, []);

  useEffect(() => {
    mounted.current = true;
    refresh();
    return () => {
      mounted.current = false;
    };
  }, [refresh]);

  useEffect(() => {
    if (connectionState !== "open" || openedSinceMount.current) return;
    openedSinceMount.current = true;
    refresh();
  }, [connectionState, refresh]);

  useResync("user", () => refresh());

  useWebSocketEvent("document_status_update", (frame) => dispatch({ type: "status_updated", update: frame.payload }));
  useWebSocketEvent("document_deleted", (frame) =>
    dispatch({ type: "document_deleted", documentId: frame.payload.documentId }),
  );

  // Events named documents this tab has not seen: fetch each one once. Until the first snapshot
  // arrives, it may well contain them; until this tab's upload answers, so may its answer.
  const unknownIds = state.loaded && uploads === 0 ? selectUnknownIds(state) : [];
  const unknownKey = unknownIds.join(",");
  useEffect(() => {
    if (!unknownKey) return;
    for (const id of unknownKey.split(",")) {
      if (fetching.current.has(id)) continue;
      fetching.current.add(id);
      getDocument(id)
        .then(
          (document) => {
            if (mounted.current) dispatch({ type: "document_loaded", document });
          },
          () => {
            if (mounted.current) dispatch({ type: "document_missing", documentId: id });
          },
        )
        .finally(() => fetching.current.delete(id));
    }
  }, [unknownKey]);

  const added = useCallback((documents: readonly DocumentPublic[]) => {
    for (const document of documents) dispatch({ type: "document_loaded", document });
  }, []);
  const uploading = useCallback((busy: boolean) => setUploads((n) => Math.max(0, n + (busy ? 1 : -1))), []);
  const removed = useCallback((documentId: string) => dispatch({ type: "document_deleted", documentId }), []);

  const documents = useMemo(() => selectDocuments(state), [state]);
  return { documents, loaded: state.loaded, error, added, uploading, removed, refresh };
}
