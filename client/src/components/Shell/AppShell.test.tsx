import { act, fireEvent, screen, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { THEME_STORAGE_KEY } from "../../contexts/ThemeContext";
import { FakeWebSocket } from "../../test/FakeWebSocket";
import { fakeAuth, renderWithProviders } from "../../test/renderWithProviders";
import { AppShell } from "./AppShell";

function renderShell(auth = fakeAuth()) {
  return renderWithProviders(
    <Routes>
      <Route element={<AppShell />}>
        <Route path="/documents" element={<p>documents page</p>} />
      </Route>
    </Routes>,
    { auth, route: "/documents" },
  );
}

function notification(seq: number, message: string, level = "info") {
  return {
    type: "notification",
    payload: { id: seq, message, from: "admin", createdAt: "2024-11-26T10:00:00Z", level },
    stream: "all",
    seq,
  };
}

beforeEach(() => {
  FakeWebSocket.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("AppShell", () => {
  it("shows the user, the navigation and the Admin link for an admin", () => {
    renderShell();
    expect(screen.getByTestId("current-user")).toHaveTextContent("admin");
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(
      within(nav)
        .getAllByRole("link")
        .map((a) => a.textContent),
    ).toEqual(["Documents", "Chat", "Admin"]);
    expect(screen.getByText("documents page")).toBeInTheDocument();
  });

  it("hides the Admin link from other users", () => {
    renderShell(fakeAuth({ user: { id: 2, username: "alice", role: "user" } }));
    expect(screen.getByTestId("current-user")).toHaveTextContent("alice");
    expect(screen.queryByRole("link", { name: "Admin" })).toBeNull();
  });

  it("signs out with the Sign out button", () => {
    const auth = fakeAuth();
    renderShell(auth);
    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(auth.signOut).toHaveBeenCalledOnce();
  });

  it("switches the theme and remembers it", () => {
    renderShell();
    const toggle = screen.getByTestId("theme-toggle");
    expect(document.documentElement.dataset.theme).toBe("light");
    fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(localStorage.getItem(THEME_STORAGE_KEY)).toBe("dark");
    expect(toggle).toHaveAttribute("aria-pressed", "true");
  });

  it("tells the connection state, with a live countdown while reconnecting", () => {
    vi.useFakeTimers();
    renderShell();
    const indicator = screen.getByTestId("connection-state");
    expect(indicator).toHaveTextContent("connecting");
    expect(indicator).toHaveAttribute("data-state", "connecting");
    act(() => FakeWebSocket.last.accept());
    expect(indicator).toHaveTextContent(/^connected$/);
    act(() => FakeWebSocket.last.serverClose(4429)); // random 0.5 → 10 s + half of the rest
    expect(indicator).toHaveAttribute("data-state", "reconnecting");
    const first = indicator.textContent;
    expect(first).toMatch(/^reconnecting in \d+s$/);
    act(() => vi.advanceTimersByTime(3_000));
    const seconds = (text: string | null) => Number(text?.match(/\d+/)?.[0]);
    expect(seconds(indicator.textContent)).toBe(seconds(first) - 3);
    act(() => vi.advanceTimersByTime(30_000));
    expect(indicator).toHaveTextContent("connecting");
    expect(FakeWebSocket.instances).toHaveLength(2);
    act(() => FakeWebSocket.last.accept());
    act(() => FakeWebSocket.last.serverClose(4403));
    expect(indicator).toHaveTextContent("access withdrawn");
    expect(indicator).toHaveAttribute("data-state", "closed_forbidden");
    expect(screen.getByRole("alert")).toHaveTextContent(/access was withdrawn/);
  });
});

describe("notifications", () => {
  it("shows a notification as a toast that leaves after 6 s, and keeps it in the list", () => {
    vi.useFakeTimers();
    renderShell();
    act(() => FakeWebSocket.last.accept({ all: { epoch: "a", seq: 0 } }));
    act(() => FakeWebSocket.last.receive(notification(1, "Maintenance at noon", "warning")));
    const toast = screen.getByTestId("toast");
    expect(toast).toHaveTextContent("Maintenance at noon");
    expect(toast).toHaveAttribute("data-level", "warning");
    act(() => vi.advanceTimersByTime(5_900));
    expect(screen.queryByTestId("toast")).not.toBeNull();
    act(() => vi.advanceTimersByTime(200));
    expect(screen.queryByTestId("toast")).toBeNull();

    const toggle = screen.getByTestId("notifications-toggle");
    expect(toggle).toHaveTextContent("Notifications (1)");
    fireEvent.click(toggle);
    const list = screen.getByTestId("notification-list");
    expect(within(list).getAllByRole("listitem")).toHaveLength(1);
    expect(list).toHaveTextContent("Maintenance at noon");
    expect(toggle).toHaveTextContent("Notifications (1)");
    // "Mark all read" in another tab: the server tells this one too.
    act(() =>
      FakeWebSocket.last.receive({
        type: "notifications_read",
        payload: { ids: [], all: true, unread: 0 },
        stream: "all",
        seq: 2,
      }),
    );
    expect(toggle).toHaveTextContent(/^Notifications$/);
    expect(within(list).getByRole("listitem")).toHaveAttribute("data-read", "true");
  });

  it("renders markup in a message as text", () => {
    renderShell();
    act(() => FakeWebSocket.last.accept({ all: { epoch: "a", seq: 0 } }));
    const evil = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    act(() => FakeWebSocket.last.receive(notification(1, evil)));
    const toast = screen.getByTestId("toast");
    expect(toast.querySelector("img, b")).toBeNull();
    expect(toast).toHaveTextContent(evil);
  });

  it("shows a duplicate (replayed) notification once", () => {
    renderShell();
    act(() => FakeWebSocket.last.accept({ all: { epoch: "a", seq: 0 } }));
    act(() => {
      FakeWebSocket.last.receive(notification(1, "once"));
      FakeWebSocket.last.receive(notification(1, "once"));
    });
    expect(screen.getAllByTestId("toast")).toHaveLength(1);
  });
});
