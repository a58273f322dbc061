/**
 * The documents list as a reducer keyed by document id: REST snapshots, upload answers and
 * `document_status_update` / `document_deleted` events all go through it, in any order.
 *
 * Pure, no I/O. Events are never lost between renders (each one is an action, not a
 * `lastMessage`), and a stale one cannot overwrite newer state: status only moves forward
 * (queued, processing, then completed or failed) and progress never goes backwards, except
 * through an update marked `restarted` (a finished document processed again).
 */

import type { DocumentPublic, DocumentStage, DocumentStatus } from "../../lib/api";
import type { DocumentStatusUpdatePayload } from "../../realtime/protocol.gen";

/** A document and when (on the reducer's clock) it last changed. */
interface Entry {
  document: DocumentPublic;
  touched: number;
}

/** What {@link documentsReducer} holds. */
export interface DocumentsState {
  /** Known documents by id. */
  byId: Readonly<Record<string, Entry>>;
  /** The latest status of ids that events named before their document was known. */
  pending: Readonly<Record<string, DocumentStatusUpdatePayload>>;
  /** Ids deleted while the page was open: a late event or snapshot must not bring them back. */
  deleted: ReadonlySet<string>;
  /** True once a snapshot has arrived. */
  loaded: boolean;
  /** Counts the actions that changed a document. */
  clock: number;
  /** The clock when the snapshot in flight was requested. */
  snapshotMark: number;
}

/** What can happen to the list. */
export type DocumentsAction =
  /** A `GET /api/documents` is about to be sent. */
  | { type: "snapshot_requested" }
  /** Its answer: the server's whole list. */
  | { type: "snapshot_loaded"; documents: readonly DocumentPublic[] }
  /** One document from an upload answer or `GET /api/documents/{id}`. */
  | { type: "document_loaded"; document: DocumentPublic }
  /** A `document_status_update` payload. */
  | { type: "status_updated"; update: DocumentStatusUpdatePayload }
  /** A `document_deleted` event, or our own DELETE succeeded. */
  | { type: "document_deleted"; documentId: string }
  /** `GET /api/documents/{id}` for a pending id failed (404: not ours, or gone). */
  | { type: "document_missing"; documentId: string };

/** The empty list, before the first snapshot. */
export const initialDocumentsState: DocumentsState = {
  byId: {},
  pending: {},
  deleted: new Set(),
  loaded: false,
  clock: 0,
  snapshotMark: 0,
};

const STATUS_ORDER: Readonly<Record<DocumentStatus, number>> = {
  queued: 0,
  processing: 1,
  completed: 2,
  failed: 2,
};

const STAGE_ORDER: Readonly<Record<DocumentStage, number>> = {
  queued: 0,
  extracting: 1,
  chunking: 2,
  embedding: 3,
  indexing: 4,
  completed: 5,
  failed: 5,
};

type StatusFields = Pick<DocumentPublic, "status" | "stage" | "progress">;

/**
 * Compare two statuses of one document by (status, progress, stage): negative if `a` is
 * earlier than `b`, zero if they are at the same point, positive if `a` is later.
 */
export function compareStatus(a: StatusFields, b: StatusFields): number {
  return (
    STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
    a.progress - b.progress ||
    STAGE_ORDER[a.stage] - STAGE_ORDER[b.stage]
  );
}

/**
 * `document` with `update` applied, or `document` itself when the update is stale. A
 * `restarted` update (a finished document processed again, e.g. re-embedded with a new model)
 * applies although its status goes backwards; the updates after it move forward again.
 */
function withStatus(document: DocumentPublic, update: DocumentStatusUpdatePayload): DocumentPublic {
  if (!update.restarted && compareStatus(update, document) < 0) return document;
  return {
    ...document,
    status: update.status,
    stage: update.stage,
    progress: update.progress,
    message: update.message,
    error: update.error !== undefined ? update.error : update.status === "failed" ? document.error : null,
  };
}

/** The fresher of two versions of one document; ties go to `incoming` (its metadata is newer). */
function fresher(current: DocumentPublic, incoming: DocumentPublic): DocumentPublic {
  if (compareStatus(incoming, current) >= 0) return incoming;
  return {
    ...incoming,
    status: current.status,
    stage: current.stage,
    progress: current.progress,
    message: current.message,
    error: current.error,
  };
}

function withoutKey<V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> {
  if (!(key in record)) return record;
  const { [key]: _removed, ...rest } = record;
  return rest;
}

/** Merge `incoming` with what is known of its id (entry and pending update). */
function merged(state: DocumentsState, incoming: DocumentPublic): DocumentPublic {
  const current = state.byId[incoming.id]?.document;
  const base = current ? fresher(current, incoming) : incoming;
  const pending = state.pending[incoming.id];
  return pending ? withStatus(base, pending) : base;
}

/** Apply one action. */
export function documentsReducer(state: DocumentsState, action: DocumentsAction): DocumentsState {
  switch (action.type) {
    case "snapshot_requested":
      return { ...state, snapshotMark: state.clock };

    case "snapshot_loaded": {
      const clock = state.clock + 1;
      const byId: Record<string, Entry> = {};
      let pending = state.pending;
      for (const document of action.documents) {
        if (state.deleted.has(document.id)) continue;
        byId[document.id] = { document: merged(state, document), touched: clock };
        pending = withoutKey(pending, document.id);
      }
      // A document missing from the snapshot was deleted, unless it changed after the request
      // left (uploaded or updated since): then the snapshot is simply older than it.
      for (const [id, entry] of Object.entries(state.byId)) {
        if (!(id in byId) && entry.touched > state.snapshotMark) byId[id] = entry;
      }
      return { ...state, byId, pending, loaded: true, clock };
    }

    case "document_loaded": {
      const { document } = action;
      if (state.deleted.has(document.id)) return state;
      const clock = state.clock + 1;
      return {
        ...state,
        byId: { ...state.byId, [document.id]: { document: merged(state, document), touched: clock } },
        pending: withoutKey(state.pending, document.id),
        clock,
      };
    }

    case "status_updated": {
      const { update } = action;
      const id = update.documentId;
      if (state.deleted.has(id)) return state;
      const entry = state.byId[id];
      if (entry) {
        const document = withStatus(entry.document, update);
        if (document === entry.document) return state;
        const clock = state.clock + 1;
        return { ...state, byId: { ...state.byId, [id]: { document, touched: clock } }, clock };
      }
      const previous = state.pending[id];
      if (previous && compareStatus(update, previous) < 0) return state;
      return { ...state, pending: { ...state.pending, [id]: update } };
    }

    case "document_deleted": {
      const id = action.documentId;
      if (state.deleted.has(id)) return state;
      return {
        ...state,
        byId: withoutKey(state.byId, id),
        pending: withoutKey(state.pending, id),
        deleted: new Set(state.deleted).add(id),
        clock: state.clock + 1,
      };
    }

    case "document_missing":
      return { ...state, pending: withoutKey(state.pending, action.documentId) };
  }
}

/** The known documents, newest first. */
export function selectDocuments(state: DocumentsState): DocumentPublic[] {
  return Object.values(state.byId)
    .map((entry) => entry.document)
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** Ids that events named but whose document is not known: fetch them one by one. */
export function selectUnknownIds(state: DocumentsState): string[] {
  return Object.keys(state.pending);
}
