import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppRoutes } from "../App";
import { NotificationsProvider } from "../components/Notifications/NotificationsContext";
import { AuthProvider } from "../contexts/AuthContext";
import { ThemeProvider } from "../contexts/ThemeContext";
import { WebSocketProvider } from "../contexts/WebSocketContext";
import { FakeWebSocket } from "../test/FakeWebSocket";
import { fakeConnection } from "../test/renderWithProviders";

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** A fetch that answers each path from a queue of replies (the last one repeats). */
function fakeServer(routes: Record<string, Reply[]>) {
  const calls: Array<{ path: string; body: unknown }> = [];
  const fetchMock = vi.fn(async (path: string, init?: RequestInit) => {
    calls.push({ path, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const queue = routes[`${init?.method ?? "GET"} ${path}`] ?? [{ status: 404, body: { detail: "Not Found" } }];
    const reply = queue.length > 1 ? (queue.shift() as Reply) : queue[0];
    return new Response(reply.status === 204 ? null : JSON.stringify(reply.body ?? {}), {
      status: reply.status,
      headers: reply.headers,
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

const admin = { id: 1, username: "admin", role: "admin" };

async function renderApp(route = "/documents") {
  render(
    <ThemeProvider>
      <AuthProvider>
        <WebSocketProvider createConnection={fakeConnection}>
          <NotificationsProvider>
            <MemoryRouter initialEntries={[route]}>
              <AppRoutes />
            </MemoryRouter>
          </NotificationsProvider>
        </WebSocketProvider>
      </AuthProvider>
    </ThemeProvider>,
  );
  await act(async () => {});
}

async function signIn(username: string, password: string) {
  fireEvent.change(screen.getByLabelText("Username"), { target: { value: username } });
  fireEvent.change(screen.getByLabelText("Password"), { target: { value: password } });
  await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign in" })));
}

beforeEach(() => {
  FakeWebSocket.reset();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("sign-in", () => {
  it("sends a signed-out visitor to the form, then into the app with a socket", async () => {
    const calls = fakeServer({
      "GET /api/auth/me": [{ status: 401, body: { detail: "Not authenticated" } }],
      "POST /api/auth/login": [{ status: 200, body: { user: admin } }],
    });
    await renderApp("/admin");
    expect(FakeWebSocket.instances).toHaveLength(0);
    await signIn("admin", "secret");
    expect(calls.at(-1)).toEqual({ path: "/api/auth/login", body: { username: "admin", password: "secret" } });
    expect(screen.getByRole("heading", { name: "Admin" })).toBeInTheDocument();
    expect(screen.getByTestId("current-user")).toHaveTextContent("admin");
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("shows the server's message for bad credentials", async () => {
    fakeServer({
      "GET /api/auth/me": [{ status: 401 }],
      "POST /api/auth/login": [{ status: 401, body: { detail: "Invalid username or password" } }],
    });
    await renderApp("/login");
    await signIn("admin", "wrong");
    expect(screen.getByRole("alert")).toHaveTextContent("Invalid username or password");
  });

  it("says how long to wait when throttled", async () => {
    fakeServer({
      "GET /api/auth/me": [{ status: 401 }],
      "POST /api/auth/login": [{ status: 429, body: { detail: "Too many" }, headers: { "Retry-After": "30" } }],
    });
    await renderApp("/login");
    await signIn("admin", "wrong");
    expect(screen.getByRole("alert")).toHaveTextContent("Too many attempts. Try again in 30 s.");
  });

  it("goes back to sign-in, saying why, when the session ends elsewhere (4401)", async () => {
    fakeServer({ "GET /api/auth/me": [{ status: 200, body: { user: admin } }] });
    await renderApp("/documents");
    act(() => FakeWebSocket.last.accept());
    act(() => FakeWebSocket.last.serverClose(4401, "session ended"));
    expect(screen.getByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.getByTestId("session-notice")).toHaveTextContent("signed out elsewhere");
    expect(screen.getByTestId("connection-state")).toHaveTextContent("signed out elsewhere");
    expect(screen.getByTestId("connection-state")).toHaveAttribute("data-state", "closed_auth");
  });

  it("signs out without a notice, even if the server closes the socket first", async () => {
    const calls = fakeServer({
      "GET /api/auth/me": [{ status: 200, body: { user: admin } }],
      "POST /api/auth/logout": [{ status: 204 }],
    });
    await renderApp("/documents");
    act(() => FakeWebSocket.last.accept());
    const fetchMock = vi.mocked(fetch);
    const realImpl = fetchMock.getMockImplementation();
    fetchMock.mockImplementationOnce(async (input, init) => {
      FakeWebSocket.last.serverClose(4401); // the server ends the session's sockets before answering
      return (realImpl as typeof fetch)(input, init);
    });
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign out" })));
    expect(calls.at(-1)?.path).toBe("/api/auth/logout");
    expect(screen.getByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.queryByTestId("session-notice")).toBeNull();
    expect(screen.queryByTestId("connection-state")).toBeNull();
  });

  it("signs out without a notice when the socket closes after the server answered", async () => {
    fakeServer({
      "GET /api/auth/me": [{ status: 200, body: { user: admin } }],
      "POST /api/auth/logout": [{ status: 204 }],
    });
    await renderApp("/documents");
    act(() => FakeWebSocket.last.accept());
    const socket = FakeWebSocket.last;
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
      await new Promise((resolve) => setTimeout(resolve, 0)); // the logout answer is in, not yet rendered
      socket.serverClose(4401);
    });
    expect(screen.getByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.queryByTestId("session-notice")).toBeNull();
  });
});
