/**
 * The REST API, same origin, session cookie. Hand-written until `client/src/api/` is generated
 * from the server's OpenAPI schema.
 */

import type { DocumentStatusUpdatePayload, UserPublic } from "../realtime/protocol.gen";

/** A user's number of open sockets. */
export interface UserConnections {
  userId: number;
  username: string;
  connections: number;
}

/** Who is connected (`GET /api/admin/connections`, RPC `connections.list`). */
export interface ConnectionsPublic {
  users: UserConnections[];
  total: number;
}

/** An announcement (`POST /api/admin/broadcast`). */
export interface BroadcastCreate {
  message: string;
  userId?: number;
  level?: "info" | "warning";
}

/** A non-2xx answer, with FastAPI's `detail` turned into one readable line. */
export class ApiError extends Error {
  readonly status: number;
  /** Seconds to wait, from `Retry-After` (429). */
  readonly retryAfter: number | null;
  /** The server's machine-readable `code` (`too_large`, `unsupported_media`), when it sent one. */
  readonly code: string | null;

  constructor(status: number, message: string, retryAfter: number | null = null, code: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfter = retryAfter;
    this.code = code;
  }
}

/** FastAPI's `{"detail": string | [{loc, msg}]}` as one line. */
export function describeDetail(body: unknown, fallback: string): string {
  if (typeof body !== "object" || body === null || !("detail" in body)) return fallback;
  const { detail } = body as { detail: unknown };
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const parts = detail.map((item: unknown) => {
      if (typeof item !== "object" || item === null) return String(item);
      const { loc, msg } = item as { loc?: unknown; msg?: unknown };
      const field = Array.isArray(loc) ? loc.filter((p) => p !== "body").join(".") : "";
      return field ? `${field}: ${String(msg)}` : String(msg);
    });
    return parts.join("; ") || fallback;
  }
  return fallback;
}

/** The `code` of an error body (`{"detail": ..., "code": "too_large"}`), if it has one. */
export function codeOf(body: unknown): string | null {
  if (typeof body !== "object" || body === null || !("code" in body)) return null;
  const { code } = body as { code: unknown };
  return typeof code === "string" ? code : null;
}

/** A JSON request to the API; non-2xx answers reject with an {@link ApiError}. */
export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    signal,
    headers:
      body === undefined
        ? { Accept: "application/json" }
        : { Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
    throw new ApiError(
      response.status,
      describeDetail(data, `${response.status} ${response.statusText}`.trim()),
      Number.isFinite(retryAfter) ? retryAfter : null,
      codeOf(data),
    );
  }
  return data as T;
}

/** `POST /api/auth/login`. */
export async function login(username: string, password: string): Promise<UserPublic> {
  const data = await call<{ user: UserPublic }>("POST", "/api/auth/login", { username, password });
  return data.user;
}

/** `POST /api/auth/logout`. */
export async function logout(): Promise<void> {
  await call<void>("POST", "/api/auth/logout");
}

/** `GET /api/auth/me`: the signed-in user, or null (401). */
export async function currentUser(): Promise<UserPublic | null> {
  try {
    const data = await call<{ user: UserPublic }>("GET", "/api/auth/me");
    return data.user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/**
 * The answer to `POST /api/admin/broadcast`: the announcement was published. No count of the
 * sockets reached: with several instances, those are on other servers.
 */
export interface BroadcastResult {
  sent: boolean;
}

/** `POST /api/admin/broadcast`. */
export async function broadcast(announcement: BroadcastCreate): Promise<BroadcastResult> {
  return call<BroadcastResult>("POST", "/api/admin/broadcast", announcement);
}

/** `GET /api/admin/connections`. */
export function fetchConnections(): Promise<ConnectionsPublic> {
  return call<ConnectionsPublic>("GET", "/api/admin/connections");
}

// --- documents ------------------------------------------------------------------------

/** A document's processing status (`document_status_update`'s `status`). */
export type DocumentStatus = DocumentStatusUpdatePayload["status"];

/** The step processing is at (`document_status_update`'s `stage`). */
export type DocumentStage = DocumentStatusUpdatePayload["stage"];

/** The kinds of file the server accepts. */
export type DocumentKind = "pdf" | "docx" | "html" | "md" | "txt";

/** One uploaded document, as `GET /api/documents/{id}` returns it. */
export interface DocumentPublic {
  id: string;
  filename: string;
  kind: DocumentKind;
  /** Bytes. */
  size: number;
  status: DocumentStatus;
  stage: DocumentStage;
  /** 0 to 100; never goes backwards. */
  progress: number;
  message: string;
  /** Why processing failed, once `status` is `failed`. */
  error: string | null;
  chunkCount: number;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  updatedAt: string;
}

/** `GET /api/documents` and `POST /api/documents`: newest first. */
export interface DocumentsPublic {
  documents: DocumentPublic[];
}

/** One passage that matched a search. */
export interface SearchResult {
  documentId: string;
  filename: string;
  chunkIndex: number;
  page: number | null;
  section: string | null;
  /** Plain text, never HTML. */
  snippet: string;
  /** `[start, end)` character offsets into `snippet` of the matched terms. */
  highlights: Array<[number, number]>;
  score: number;
  /** Why it matched: shared words, close meaning (embeddings), or both. */
  matched: SearchMatch;
}

/** How `GET /api/documents/search` ranks: BM25 over words, embeddings, or both fused. */
export type SearchMode = "hybrid" | "lexical" | "semantic";

/** Why a passage matched a search. */
export type SearchMatch = "words" | "meaning" | "both";

/** `GET /api/documents/search`. */
export interface SearchResults {
  results: SearchResult[];
}

/** The file extensions `POST /api/documents` accepts, for the file picker's `accept`. */
export const DOCUMENT_EXTENSIONS = [".txt", ".md", ".html", ".pdf", ".docx"] as const;

/** `GET /api/documents`: the signed-in user's documents, newest first. */
export async function listDocuments(): Promise<DocumentPublic[]> {
  const data = await call<DocumentsPublic>("GET", "/api/documents");
  return data.documents;
}

/** `GET /api/documents/{id}` (404 for another user's document). */
export function getDocument(id: string): Promise<DocumentPublic> {
  return call<DocumentPublic>("GET", `/api/documents/${encodeURIComponent(id)}`);
}

/** `DELETE /api/documents/{id}`. */
export async function deleteDocument(id: string): Promise<void> {
  await call<void>("DELETE", `/api/documents/${encodeURIComponent(id)}`);
}

/** Where the original file of document `id` is downloaded from. */
export function documentFileUrl(id: string): string {
  return `/api/documents/${encodeURIComponent(id)}/file`;
}

/** `GET /api/documents/search?q=...&mode=...`: passages of the user's documents, best first. */
export async function searchDocuments(
  query: string,
  signal?: AbortSignal,
  mode: SearchMode = "hybrid",
): Promise<SearchResult[]> {
  const data = await call<SearchResults>(
    "GET",
    `/api/documents/search?q=${encodeURIComponent(query)}&mode=${mode}`,
    undefined,
    signal,
  );
  return data.results;
}

/** How far an upload has got, in bytes. */
export interface UploadProgress {
  loaded: number;
  /** null when the browser cannot tell (no `Content-Length`). */
  total: number | null;
}

/**
 * `POST /api/documents` with `files` as multipart parts named `files`.
 *
 * Sent with XMLHttpRequest rather than fetch, because only XHR reports upload progress. The
 * server takes all the files or none: a 413 (`too_large`) or 415 (`unsupported_media`) names the
 * file that was refused and rejects with an {@link ApiError} carrying that `code`.
 */
export function uploadDocuments(
  files: readonly File[],
  { onProgress, signal }: { onProgress?: (progress: UploadProgress) => void; signal?: AbortSignal } = {},
): Promise<DocumentPublic[]> {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const file of files) body.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      onProgress?.({ loaded: event.loaded, total: event.lengthComputable ? event.total : null });
    };
    xhr.onload = () => {
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve((data as DocumentsPublic | null)?.documents ?? []);
        return;
      }
      const retryAfter = Number.parseInt(xhr.getResponseHeader("Retry-After") ?? "", 10);
      reject(
        new ApiError(
          xhr.status,
          describeDetail(data, `${xhr.status} ${xhr.statusText}`.trim()),
          Number.isFinite(retryAfter) ? retryAfter : null,
          codeOf(data),
        ),
      );
    };
    xhr.onerror = () => reject(new ApiError(0, "The upload failed: the server could not be reached."));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException("The upload was cancelled.", "AbortError"));
        return;
      }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

/** One stored notification (`GET /api/notifications`). */
export interface StoredNotification {
  id: number;
  kind: string;
  message: string;
  from: string;
  level: "info" | "warning";
  createdAt: string;
  read: boolean;
  link?: string | null;
}

/** A page of notifications, newest first, and how many are unread in all. */
export interface NotificationPage {
  notifications: StoredNotification[];
  unread: number;
}

/** `GET /api/notifications?before=&limit=`. */
export function fetchNotifications(before: number | null, limit = 20): Promise<NotificationPage> {
  const query = before === null ? `?limit=${limit}` : `?before=${before}&limit=${limit}`;
  return call<NotificationPage>("GET", `/api/notifications${query}`);
}

/** `POST /api/notifications/read`: some ids, or everything. */
export function markNotificationsRead(ids: number[] | "all"): Promise<{ unread: number }> {
  return call<{ unread: number }>("POST", "/api/notifications/read", ids === "all" ? { all: true } : { ids });
}
