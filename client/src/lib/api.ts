/**
 * The REST API, same origin, session cookie. Hand-written until `client/src/api/` is generated
 * from the server's OpenAPI schema.
 */

import type { UserPublic } from "../realtime/protocol.gen";

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

  constructor(status: number, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfter = retryAfter;
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

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
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

/** `POST /api/admin/broadcast`: returns how many sockets it reached. */
export async function broadcast(announcement: BroadcastCreate): Promise<number> {
  const data = await call<{ delivered: number }>("POST", "/api/admin/broadcast", announcement);
  return data.delivered;
}

/** `GET /api/admin/connections`. */
export function fetchConnections(): Promise<ConnectionsPublic> {
  return call<ConnectionsPublic>("GET", "/api/admin/connections");
}
