import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import { NotificationsProvider } from "../components/Notifications/NotificationsContext";
import { AuthContext, type AuthValue } from "../contexts/AuthContext";
import { ThemeProvider } from "../contexts/ThemeContext";
import { WebSocketProvider } from "../contexts/WebSocketContext";
import { Connection } from "../realtime/connection";
import { FakeEnvironment, FakeWebSocket } from "./FakeWebSocket";

/** A connection over {@link FakeWebSocket}. */
export function fakeConnection(): Connection {
  return new Connection({
    url: "ws://test/ws",
    WebSocket: FakeWebSocket,
    environment: new FakeEnvironment(),
    backoff: { baseMs: 500, capMs: 30_000, random: () => 0.5 },
  });
}

/** A fixed auth value: signed in as `admin` unless overridden. */
export function fakeAuth(overrides: Partial<AuthValue> = {}): AuthValue {
  return {
    status: "signed_in",
    user: { id: 1, username: "admin", role: "admin" },
    notice: null,
    signIn: vi.fn(async () => {}),
    signOut: vi.fn(async () => {}),
    recheck: vi.fn(async () => {}),
    endSession: vi.fn(),
    ...overrides,
  };
}

/** Render `ui` inside every provider, with a fake socket and a fixed auth value. */
export function renderWithProviders(
  ui: ReactNode,
  { auth = fakeAuth(), route = "/", connection = fakeConnection() } = {},
) {
  const result = render(
    <ThemeProvider>
      <AuthContext.Provider value={auth}>
        <WebSocketProvider createConnection={() => connection}>
          <NotificationsProvider>
            <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
          </NotificationsProvider>
        </WebSocketProvider>
      </AuthContext.Provider>
    </ThemeProvider>,
  );
  return { ...result, connection, auth };
}
