import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DocumentPublic } from "../lib/api";
import type { DocumentStatusUpdatePayload } from "../realtime/protocol.gen";
import { FakeWebSocket } from "../test/FakeWebSocket";
import { renderWithProviders } from "../test/renderWithProviders";
import { DocumentsPage } from "./DocumentsPage";

function doc(id: string, overrides: Partial<DocumentPublic> = {}): DocumentPublic {
  return {
    id,
    filename: `${id}.pdf`,
    kind: "pdf",
    size: 2048,
    status: "queued",
    stage: "queued",
    progress: 0,
    message: "Waiting to be processed",
    error: null,
    chunkCount: 0,
    createdAt: "2025-01-01T00:00:00Z",
    updatedAt: "2025-01-01T00:00:00Z",
    ...overrides,
  };
}

type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

function json(body: unknown, status = 200): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** A fetch that answers `METHOD path` from `routes` (404 otherwise) and records every call. */
function fakeServer(routes: Record<string, Handler>) {
  const calls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const key = `${init?.method ?? "GET"} ${url}`;
      calls.push(key);
      const handler = routes[key];
      return handler ? handler(url, init) : json({ detail: "Not Found" }, 404);
    }),
  );
  return calls;
}

/** A scripted XMLHttpRequest: the test plays the server with `progress` and `respond`. */
class FakeXhr {
  static last: FakeXhr | null = null;
  method = "";
  url = "";
  body: FormData | null = null;
  withCredentials = false;
  status = 0;
  statusText = "";
  responseText = "";
  readonly upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(): void {}
  getResponseHeader(): string | null {
    return null;
  }
  send(body: FormData): void {
    this.body = body;
    FakeXhr.last = this;
  }
  abort(): void {
    this.onabort?.();
  }

  progress(loaded: number, total: number): void {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent);
  }
  respond(status: number, body: unknown): void {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

function statusEvent(seq: number, payload: DocumentStatusUpdatePayload) {
  return { type: "document_status_update", payload, stream: "user:1", seq };
}

function rowOf(id: string): HTMLElement {
  const row = screen.getAllByTestId("document-row").find((r) => r.getAttribute("data-document-id") === id);
  if (!row) throw new Error(`no row for ${id}`);
  return row;
}

function rowIds(): string[] {
  return screen.queryAllByTestId("document-row").map((r) => r.getAttribute("data-document-id") ?? "");
}

/** Render the page, open the socket on stream `user:1`, and wait for the list. */
async function renderPage() {
  const result = renderWithProviders(<DocumentsPage />, { route: "/documents" });
  act(() => FakeWebSocket.last.accept({ "user:1": { epoch: "u", seq: 0 } }));
  await waitFor(() => expect(screen.getByTestId("documents-list")).toHaveAttribute("aria-busy", "false"));
  return { ...result, socket: FakeWebSocket.last };
}

beforeEach(() => {
  FakeWebSocket.reset();
  FakeXhr.last = null;
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("DocumentsPage list", () => {
  it("reads GET /api/documents on mount (and once more when the socket first opens), never polling", async () => {
    const calls = fakeServer({
      "GET /api/documents": () =>
        json({ documents: [doc("d_b", { filename: "<img src=x onerror=alert(1)>.txt", kind: "txt" }), doc("d_a")] }),
    });
    await renderPage();
    expect(rowIds()).toEqual(["d_b", "d_a"]);
    const row = rowOf("d_b");
    expect(within(row).getByTestId("document-filename").textContent).toBe("<img src=x onerror=alert(1)>.txt");
    expect(row.querySelector("img")).toBeNull();
    expect(row).toHaveAttribute("data-status", "queued");
    expect(within(row).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "0");
    expect(within(row).getByRole("link", { name: /Download/ })).toHaveAttribute("href", "/api/documents/d_b/file");
    expect(calls.filter((c) => c.startsWith("GET /api/documents"))).toEqual([
      "GET /api/documents",
      "GET /api/documents",
    ]);
  });

  it("ends a burst of 100 status updates for 10 documents, sent in one tick, with every row at its final state", async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `d_${i}`);
    const calls = fakeServer({ "GET /api/documents": () => json({ documents: ids.map((id) => doc(id)) }) });
    const { socket } = await renderPage();
    act(() => {
      let seq = 0;
      for (let step = 1; step <= 10; step++) {
        for (const [i, id] of ids.entries()) {
          const last = step === 10;
          const fails = i === 7;
          seq += 1;
          socket.receive(
            statusEvent(seq, {
              documentId: id,
              status: last ? (fails ? "failed" : "completed") : "processing",
              stage: last ? (fails ? "failed" : "completed") : step < 5 ? "extracting" : "indexing",
              progress: last && fails ? 90 : step * 10,
              message: last ? (fails ? "Failed" : "Ready: 4 passages") : `Step ${step}`,
              ...(last && fails ? { error: "the PDF is password-protected" } : {}),
            }),
          );
        }
      }
    });
    for (const [i, id] of ids.entries()) {
      const row = rowOf(id);
      const fails = i === 7;
      expect(row).toHaveAttribute("data-status", fails ? "failed" : "completed");
      expect(within(row).getByRole("progressbar")).toHaveAttribute("aria-valuenow", fails ? "90" : "100");
      expect(row).toHaveTextContent(fails ? "Failed" : "Ready: 4 passages");
    }
    expect(within(rowOf("d_7")).getByTestId("document-error")).toHaveTextContent("the PDF is password-protected");
    expect(calls.filter((c) => c === "GET /api/documents")).toHaveLength(2);
  });

  it("fetches a document it does not know when an event names it, keeping events that arrive meanwhile", async () => {
    let answer: (response: Response) => void = () => {};
    const calls = fakeServer({
      "GET /api/documents": () => json({ documents: [] }),
      "GET /api/documents/d_other": () =>
        new Promise<Response>((resolve) => {
          answer = resolve;
        }),
    });
    const { socket } = await renderPage();
    const update = { documentId: "d_other", status: "processing", stage: "extracting" } as const;
    act(() => socket.receive(statusEvent(1, { ...update, progress: 10, message: "Extracting" })));
    await waitFor(() => expect(calls).toContain("GET /api/documents/d_other"));
    act(() => socket.receive(statusEvent(2, { ...update, progress: 60, message: "Extracting text (page 6 of 10)" })));
    await act(async () => answer(json(doc("d_other", { status: "processing", stage: "extracting", progress: 10 }))));
    await waitFor(() => expect(rowIds()).toEqual(["d_other"]));
    expect(within(rowOf("d_other")).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "60");
    expect(rowOf("d_other")).toHaveTextContent("Extracting text (page 6 of 10)");
    expect(calls.filter((c) => c === "GET /api/documents/d_other")).toHaveLength(1);
  });

  it("removes a row on document_deleted", async () => {
    fakeServer({ "GET /api/documents": () => json({ documents: [doc("d_1"), doc("d_2")] }) });
    const { socket } = await renderPage();
    act(() => socket.receive({ type: "document_deleted", payload: { documentId: "d_1" }, stream: "user:1", seq: 1 }));
    expect(rowIds()).toEqual(["d_2"]);
  });

  it("refetches the list when the server says the user's stream must be resynced", async () => {
    let documents = [doc("d_1"), doc("d_2")];
    const calls = fakeServer({ "GET /api/documents": () => json({ documents }) });
    const { socket } = await renderPage();
    documents = [doc("d_3", { createdAt: "2025-03-01T00:00:00Z" }), doc("d_2", { status: "completed", progress: 100 })];
    act(() =>
      socket.receive({
        type: "resync_required",
        payload: { stream: "user:1", epoch: "u2", seq: 40, reason: "history lost" },
      }),
    );
    await waitFor(() => expect(rowIds()).toEqual(["d_3", "d_2"]));
    expect(rowOf("d_2")).toHaveAttribute("data-status", "completed");
    expect(calls.filter((c) => c === "GET /api/documents")).toHaveLength(3);
  });

  it("deletes a document after asking for confirmation", async () => {
    const calls = fakeServer({
      "GET /api/documents": () => json({ documents: [doc("d_1"), doc("d_2")] }),
      "DELETE /api/documents/d_1": () => json(null, 204),
    });
    await renderPage();
    fireEvent.click(within(rowOf("d_1")).getByRole("button", { name: "Delete d_1.pdf" }));
    expect(calls).not.toContain("DELETE /api/documents/d_1");
    fireEvent.click(within(rowOf("d_1")).getByRole("button", { name: "Cancel" }));
    fireEvent.click(within(rowOf("d_1")).getByRole("button", { name: "Delete d_1.pdf" }));
    await act(async () =>
      fireEvent.click(within(rowOf("d_1")).getByRole("button", { name: "Confirm deleting d_1.pdf" })),
    );
    expect(calls).toContain("DELETE /api/documents/d_1");
    expect(rowIds()).toEqual(["d_2"]);
  });
});

describe("DocumentsPage upload", () => {
  beforeEach(() => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
  });

  function pick(files: File[]) {
    fireEvent.change(screen.getByLabelText("Upload documents"), { target: { files } });
  }

  it("sends every file as a `files` part, shows progress, then adds the new rows", async () => {
    fakeServer({ "GET /api/documents": () => json({ documents: [doc("d_old")] }) });
    await renderPage();
    pick([new File(["a"], "a.txt", { type: "text/plain" }), new File(["b"], "b.md", { type: "text/markdown" })]);
    const xhr = FakeXhr.last as FakeXhr;
    expect(xhr.method).toBe("POST");
    expect(xhr.url).toBe("/api/documents");
    expect(((xhr.body as FormData).getAll("files") as File[]).map((f) => f.name)).toEqual(["a.txt", "b.md"]);
    expect(screen.getByRole("progressbar", { name: "Upload progress" })).toHaveAttribute("aria-valuenow", "0");
    act(() => xhr.progress(30, 60));
    expect(screen.getByRole("progressbar", { name: "Upload progress" })).toHaveAttribute("aria-valuenow", "50");
    const created = [
      doc("d_a", { filename: "a.txt", kind: "txt", createdAt: "2025-02-01T00:00:01Z" }),
      doc("d_b", { filename: "b.md", kind: "md", createdAt: "2025-02-01T00:00:00Z" }),
    ];
    await act(async () => xhr.respond(201, { documents: created }));
    expect(screen.queryByRole("progressbar", { name: "Upload progress" })).toBeNull();
    expect(screen.getByTestId("upload-result")).toHaveTextContent("Uploaded 2 documents");
    expect(rowIds()).toEqual(["d_a", "d_b", "d_old"]);
  });

  it("does not fetch the documents its own upload adds when the server's events arrive before its answer", async () => {
    const calls = fakeServer({ "GET /api/documents": () => json({ documents: [] }) });
    const { socket } = await renderPage();
    pick([new File(["a"], "a.txt", { type: "text/plain" })]);
    const xhr = FakeXhr.last as FakeXhr;
    const update = { documentId: "d_a", status: "processing", stage: "extracting", message: "Extracting" } as const;
    await act(async () => {
      socket.receive(statusEvent(1, { ...update, status: "queued", stage: "queued", progress: 0 }));
      socket.receive(statusEvent(2, { ...update, progress: 20 }));
    });
    expect(calls).not.toContain("GET /api/documents/d_a");
    await act(async () => xhr.respond(201, { documents: [doc("d_a", { filename: "a.txt", kind: "txt" })] }));
    expect(rowIds()).toEqual(["d_a"]);
    expect(rowOf("d_a")).toHaveAttribute("data-status", "processing");
    expect(within(rowOf("d_a")).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "20");
    expect(calls).not.toContain("GET /api/documents/d_a");
  });

  it("fetches a document an event named during its upload once the upload fails without naming it", async () => {
    const calls = fakeServer({ "GET /api/documents": () => json({ documents: [] }) });
    const { socket } = await renderPage();
    pick([new File(["a"], "a.txt", { type: "text/plain" })]);
    const xhr = FakeXhr.last as FakeXhr;
    await act(async () =>
      socket.receive(
        statusEvent(1, { documentId: "d_x", status: "queued", stage: "queued", progress: 0, message: "Queued" }),
      ),
    );
    expect(calls).not.toContain("GET /api/documents/d_x");
    await act(async () => xhr.respond(500, { detail: "Internal error" }));
    await waitFor(() => expect(calls).toContain("GET /api/documents/d_x"));
  });

  it.each([
    [
      413,
      { detail: "big.pdf is larger than the 20 MB limit", code: "too_large" },
      "File too large: big.pdf is larger than the 20 MB limit None of the files were uploaded.",
    ],
    [
      415,
      { detail: "photo.png: unsupported file type", code: "unsupported_media" },
      "Unsupported file type: photo.png: unsupported file type Accepted types: TXT, MD, HTML, PDF, DOCX. None of the files were uploaded.",
    ],
    [413, "<html>Request Entity Too Large</html>", "File too large: a file is larger than the upload limit."],
  ])("explains a %i answer in an alert", async (status, body, expected) => {
    fakeServer({ "GET /api/documents": () => json({ documents: [] }) });
    await renderPage();
    pick([new File(["x"], "big.pdf", { type: "application/pdf" })]);
    const xhr = FakeXhr.last as FakeXhr;
    await act(async () => {
      if (typeof body === "string") {
        xhr.status = status;
        xhr.statusText = "Request Entity Too Large";
        xhr.responseText = body;
        xhr.onload?.();
      } else xhr.respond(status, body);
    });
    expect(screen.getByRole("alert")).toHaveTextContent(expected);
    expect(screen.queryByRole("progressbar", { name: "Upload progress" })).toBeNull();
    expect(rowIds()).toEqual([]);
  });
});

describe("DocumentsPage search", () => {
  it("shows each result's file, place and snippet, with <mark> for the highlights and markup kept as text", async () => {
    const calls = fakeServer({
      "GET /api/documents": () => json({ documents: [] }),
      "GET /api/documents/search?q=quick%20fox&mode=hybrid": () =>
        json({
          results: [
            {
              documentId: "d_1",
              filename: "animals.pdf",
              chunkIndex: 3,
              page: 2,
              section: "Foxes",
              snippet: "The <b>quick</b> brown fox",
              highlights: [
                [7, 12],
                [23, 26],
              ],
              score: 1.5,
              matched: "both",
            },
            {
              documentId: "d_2",
              filename: "notes.md",
              chunkIndex: 0,
              page: null,
              section: null,
              snippet: "a quick note",
              highlights: [[2, 7]],
              score: 0.5,
              matched: "words",
            },
          ],
        }),
    });
    await renderPage();
    const input = screen.getByRole("searchbox", { name: "Search documents" });
    expect(input).toBe(screen.getByTestId("search-input"));
    fireEvent.change(input, { target: { value: "quick fox" } });
    await act(async () => fireEvent.submit(input));
    const results = await screen.findByTestId("search-results");
    expect(calls).toContain("GET /api/documents/search?q=quick%20fox&mode=hybrid");
    const items = within(results).getAllByTestId("search-result");
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent("animals.pdf");
    expect(items[0]).toHaveTextContent("page 2 · Foxes");
    const snippet = within(items[0]).getByTestId("search-snippet");
    expect(snippet.textContent).toBe("The <b>quick</b> brown fox");
    expect(snippet.querySelector("b")).toBeNull();
    expect(Array.from(snippet.querySelectorAll("mark")).map((m) => m.textContent)).toEqual(["quick", "fox"]);
    expect(items[1]).toHaveTextContent("notes.md");
    expect(Array.from(items[1].querySelectorAll("mark")).map((m) => m.textContent)).toEqual(["quick"]);
    expect(within(items[0]).getByTestId("search-match")).toHaveTextContent("matched words and meaning");
    expect(within(items[1]).getByTestId("search-match")).toHaveTextContent("matched words");
  });

  it("searches again by meaning only when the mode changes, and says a hit matched by meaning", async () => {
    const calls = fakeServer({
      "GET /api/documents": () => json({ documents: [] }),
      "GET /api/documents/search?q=car&mode=hybrid": () => json({ results: [] }),
      "GET /api/documents/search?q=car&mode=semantic": () =>
        json({
          results: [
            {
              documentId: "d_1",
              filename: "garage.md",
              chunkIndex: 0,
              page: null,
              section: "Vehicles",
              snippet: "The automobile needs new tyres.",
              highlights: [],
              score: 0.61,
              matched: "meaning",
            },
          ],
        }),
    });
    await renderPage();
    const input = screen.getByRole("searchbox", { name: "Search documents" });
    fireEvent.change(input, { target: { value: "car" } });
    await act(async () => fireEvent.submit(input));
    expect(await screen.findByText("Nothing matches “car”.")).toBeInTheDocument();
    await act(async () =>
      fireEvent.change(screen.getByRole("combobox", { name: "Search mode" }), { target: { value: "semantic" } }),
    );
    const item = await screen.findByTestId("search-result");
    expect(calls).toContain("GET /api/documents/search?q=car&mode=semantic");
    expect(within(item).getByTestId("search-match")).toHaveTextContent("matched meaning");
    expect(item.querySelectorAll("mark")).toHaveLength(0);
  });
});

describe("DocumentsPage errors", () => {
  it("says when the list cannot be loaded, and loads it on Try again", async () => {
    let fail = true;
    fakeServer({
      "GET /api/documents": () =>
        fail ? json({ detail: "Database unavailable" }, 503) : json({ documents: [doc("d_1")] }),
    });
    renderWithProviders(<DocumentsPage />, { route: "/documents" });
    expect(await screen.findByTestId("documents-error")).toHaveTextContent(
      "Could not load your documents: Database unavailable",
    );
    fail = false;
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Try again" })));
    await waitFor(() => expect(rowIds()).toEqual(["d_1"]));
    expect(screen.queryByTestId("documents-error")).toBeNull();
  });
});
