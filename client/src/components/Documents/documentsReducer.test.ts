// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { DocumentPublic } from "../../lib/api";
import type { DocumentStatusUpdatePayload } from "../../realtime/protocol.gen";
import {
  type DocumentsAction,
  type DocumentsState,
  documentsReducer,
  initialDocumentsState,
  selectDocuments,
  selectUnknownIds,
} from "./documentsReducer";

function doc(id: string, overrides: Partial<DocumentPublic> = {}): DocumentPublic {
  return {
    id,
    filename: `${id}.txt`,
    kind: "txt",
    size: 100,
    status: "queued",
    stage: "queued",
    progress: 0,
    message: "Queued",
    error: null,
    chunkCount: 0,
    createdAt: "2025-01-01T00:00:00Z",
    updatedAt: "2025-01-01T00:00:00Z",
    ...overrides,
  };
}

function update(documentId: string, overrides: Partial<DocumentStatusUpdatePayload> = {}): DocumentStatusUpdatePayload {
  return { documentId, status: "processing", stage: "extracting", progress: 10, message: "Extracting", ...overrides };
}

function run(...actions: DocumentsAction[]): DocumentsState {
  return actions.reduce(documentsReducer, initialDocumentsState);
}

function loaded(...documents: DocumentPublic[]): DocumentsAction[] {
  return [{ type: "snapshot_requested" }, { type: "snapshot_loaded", documents }];
}

function statusOf(state: DocumentsState, id: string) {
  const found = selectDocuments(state).find((d) => d.id === id);
  return found && { status: found.status, stage: found.stage, progress: found.progress, message: found.message };
}

describe("documentsReducer", () => {
  it("shows a finished document processed again (restarted), then its progress", () => {
    const finished = doc("d_1", { status: "completed", stage: "completed", progress: 100, message: "Ready" });
    const requeued = update("d_1", { status: "queued", stage: "queued", progress: 0, message: "Queued: embedding" });
    expect(statusOf(run(...loaded(finished), { type: "status_updated", update: requeued }), "d_1")?.status).toBe(
      "completed",
    );
    const state = run(
      ...loaded(finished),
      { type: "status_updated", update: { ...requeued, restarted: true } },
      {
        type: "status_updated",
        update: update("d_1", { stage: "embedding", progress: 70, message: "Embedded 4 of 9" }),
      },
    );
    expect(statusOf(state, "d_1")).toEqual({
      status: "processing",
      stage: "embedding",
      progress: 70,
      message: "Embedded 4 of 9",
    });
  });

  it("lists the snapshot newest first", () => {
    const state = run(
      ...loaded(
        doc("d_old", { createdAt: "2025-01-01T00:00:00Z" }),
        doc("d_new", { createdAt: "2025-02-01T00:00:00Z" }),
        doc("d_mid", { createdAt: "2025-01-15T00:00:00Z" }),
      ),
    );
    expect(state.loaded).toBe(true);
    expect(selectDocuments(state).map((d) => d.id)).toEqual(["d_new", "d_mid", "d_old"]);
  });

  it("applies updates in order: queued, processing, completed", () => {
    const state = run(
      ...loaded(doc("d_1")),
      { type: "status_updated", update: update("d_1", { progress: 30, message: "Extracting text (page 3 of 10)" }) },
      { type: "status_updated", update: update("d_1", { stage: "chunking", progress: 60, message: "Chunking" }) },
      {
        type: "status_updated",
        update: update("d_1", { status: "completed", stage: "completed", progress: 100, message: "Done" }),
      },
    );
    expect(statusOf(state, "d_1")).toEqual({ status: "completed", stage: "completed", progress: 100, message: "Done" });
  });

  it("never goes backwards: a stale update for lower progress or an earlier status is ignored", () => {
    const at60 = run(...loaded(doc("d_1")), {
      type: "status_updated",
      update: update("d_1", { stage: "chunking", progress: 60, message: "Chunking" }),
    });
    const stale = [
      update("d_1", { progress: 40, message: "old" }),
      update("d_1", { status: "queued", stage: "queued", progress: 0, message: "old" }),
      update("d_1", { stage: "extracting", progress: 60, message: "old" }),
    ];
    for (const u of stale) {
      expect(documentsReducer(at60, { type: "status_updated", update: u })).toBe(at60);
    }
    const done = documentsReducer(at60, {
      type: "status_updated",
      update: update("d_1", { status: "completed", stage: "completed", progress: 100, message: "Done" }),
    });
    const late = documentsReducer(done, { type: "status_updated", update: update("d_1", { progress: 90 }) });
    expect(late).toBe(done);
    expect(statusOf(late, "d_1")?.status).toBe("completed");
  });

  it("takes a newer message at the same progress", () => {
    const state = run(
      ...loaded(doc("d_1")),
      { type: "status_updated", update: update("d_1", { progress: 30, message: "page 3 of 10" }) },
      { type: "status_updated", update: update("d_1", { progress: 30, message: "page 4 of 10" }) },
    );
    expect(statusOf(state, "d_1")?.message).toBe("page 4 of 10");
  });

  it("keeps the failure reason, and clears it for a non-failed update", () => {
    const failed = run(...loaded(doc("d_1")), {
      type: "status_updated",
      update: update("d_1", {
        status: "failed",
        stage: "failed",
        progress: 20,
        message: "Failed",
        error: "the PDF is password-protected",
      }),
    });
    expect(selectDocuments(failed)[0].error).toBe("the PDF is password-protected");
    const processing = run(...loaded(doc("d_2", { error: "stale" })), {
      type: "status_updated",
      update: update("d_2"),
    });
    expect(selectDocuments(processing)[0].error).toBeNull();
  });

  it("holds an update for an unknown id as pending until its document is loaded, newest first", () => {
    let state = run(
      ...loaded(),
      { type: "status_updated", update: update("d_x", { progress: 50, message: "half" }) },
      { type: "status_updated", update: update("d_x", { progress: 20, message: "stale" }) },
    );
    expect(selectDocuments(state)).toEqual([]);
    expect(selectUnknownIds(state)).toEqual(["d_x"]);
    expect(state.pending.d_x.progress).toBe(50);
    // The fetched document is older than the event that arrived meanwhile: the event wins.
    state = documentsReducer(state, { type: "document_loaded", document: doc("d_x", { progress: 5 }) });
    expect(selectUnknownIds(state)).toEqual([]);
    expect(statusOf(state, "d_x")).toEqual({
      status: "processing",
      stage: "extracting",
      progress: 50,
      message: "half",
    });
  });

  it("drops a pending id whose fetch failed", () => {
    const state = run(
      ...loaded(),
      { type: "status_updated", update: update("d_x") },
      {
        type: "document_missing",
        documentId: "d_x",
      },
    );
    expect(selectUnknownIds(state)).toEqual([]);
  });

  it("forgets a deleted document for good: later events and snapshots do not bring it back", () => {
    let state = run(...loaded(doc("d_1"), doc("d_2")), { type: "document_deleted", documentId: "d_1" });
    expect(selectDocuments(state).map((d) => d.id)).toEqual(["d_2"]);
    state = documentsReducer(state, { type: "status_updated", update: update("d_1", { progress: 90 }) });
    expect(selectUnknownIds(state)).toEqual([]);
    // A snapshot taken before the delete, or a fetch that raced it, still lists d_1.
    state = documentsReducer(state, { type: "snapshot_requested" });
    state = documentsReducer(state, { type: "snapshot_loaded", documents: [doc("d_1"), doc("d_2")] });
    state = documentsReducer(state, { type: "document_loaded", document: doc("d_1") });
    expect(selectDocuments(state).map((d) => d.id)).toEqual(["d_2"]);
  });

  it("merges a snapshot with events that arrived while it was in flight", () => {
    let state = run(...loaded(doc("d_1"), doc("d_gone")));
    state = documentsReducer(state, { type: "snapshot_requested" });
    // While the request is out: d_1 moves on, and d_new is uploaded from this tab.
    state = documentsReducer(state, { type: "status_updated", update: update("d_1", { progress: 70 }) });
    state = documentsReducer(state, { type: "document_loaded", document: doc("d_new") });
    // The snapshot was taken before both, and no longer has d_gone (deleted while offline).
    state = documentsReducer(state, {
      type: "snapshot_loaded",
      documents: [doc("d_1", { status: "processing", stage: "extracting", progress: 40, chunkCount: 3 })],
    });
    const byId = Object.fromEntries(selectDocuments(state).map((d) => [d.id, d]));
    expect(Object.keys(byId).sort()).toEqual(["d_1", "d_new"]);
    expect(byId.d_1.progress).toBe(70);
    expect(byId.d_1.chunkCount).toBe(3);
  });

  it("takes the snapshot's state when it is newer than what the page had", () => {
    const state = run(
      ...loaded(doc("d_1")),
      ...loaded(
        doc("d_1", { status: "completed", stage: "completed", progress: 100, message: "Done", chunkCount: 12 }),
      ),
    );
    expect(selectDocuments(state)[0]).toMatchObject({ status: "completed", progress: 100, chunkCount: 12 });
  });
});
