import { act, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "../test/FakeWebSocket";
import { renderWithProviders } from "../test/renderWithProviders";
import { AdminPage } from "./AdminPage";

const usersA = { users: [{ userId: 1, username: "admin", connections: 1 }], total: 1 };
const usersB = {
  users: [
    { userId: 1, username: "admin", connections: 1 },
    { userId: 3, username: "alice", connections: 2 },
  ],
  total: 3,
};

async function answerRpc(socket: FakeWebSocket, index: number, result: unknown) {
  const rpc = socket.framesOf("rpc")[index];
  expect(rpc.payload).toEqual({ method: "connections.list", params: {} });
  await act(async () => socket.receive({ type: "rpc_result", id: rpc.id, payload: { result } }));
}

beforeEach(() => {
  FakeWebSocket.reset();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("AdminPage", () => {
  it("joins admin:connections and refreshes the table on connections_changed, without polling", async () => {
    renderWithProviders(<AdminPage />);
    const socket = FakeWebSocket.last;
    act(() => socket.accept({ "user:1": { epoch: "u", seq: 0 } }));
    expect(socket.framesOf("subscribe").map((f) => f.payload.topic)).toEqual([
      "admin:dashboard",
      "presence:admin",
      "admin:connections",
    ]);
    await answerRpc(socket, 0, usersA);
    const table = screen.getByTestId("connections-table");
    expect(within(table).getAllByRole("row")).toHaveLength(2);

    act(() =>
      socket.receive({
        type: "connections_changed",
        payload: { userId: 3, connections: 2 },
        stream: "topic:admin:connections",
        seq: 1,
      }),
    );
    await answerRpc(socket, 1, usersB);
    expect(within(screen.getByTestId("connections-table")).getAllByRole("row")).toHaveLength(3);
    expect(screen.getByTestId("connections-table")).toHaveTextContent("alice");
    const options = within(screen.getByTestId("announce-target")).getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["Everyone", "admin", "alice"]);
    expect(socket.framesOf("rpc")).toHaveLength(2);
  });

  it("sends an announcement to one user through POST /api/admin/broadcast", async () => {
    const fetchMock = vi.fn(
      async () => new Response(JSON.stringify({ sent: true }), { headers: { "Content-Type": "application/json" } }),
    );
    vi.stubGlobal("fetch", fetchMock);
    renderWithProviders(<AdminPage />);
    act(() => FakeWebSocket.last.accept());
    await answerRpc(FakeWebSocket.last, 0, usersB);

    fireEvent.change(screen.getByTestId("announce-message"), { target: { value: "Hello <b>all</b>" } });
    fireEvent.change(screen.getByTestId("announce-target"), { target: { value: "3" } });
    await act(async () => fireEvent.click(screen.getByTestId("announce-send")));

    // The notifications list is read when the socket opens; the broadcast is the one POST.
    const posts = (fetchMock.mock.calls as unknown as [string, RequestInit][]).filter(([, i]) => i.method === "POST");
    expect(posts).toHaveLength(1);
    const [url, init] = posts[0];
    expect(url).toBe("/api/admin/broadcast");
    expect(init.method).toBe("POST");
    expect(new Headers(init.headers).get("Content-Type")).toBe("application/json");
    expect(JSON.parse(String(init.body))).toEqual({ message: "Hello <b>all</b>", level: "info", userId: 3 });
    expect(screen.getByTestId("announce-result")).toHaveTextContent("Announcement sent to alice.");
  });

  it("shows the server's validation error", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(
        async () =>
          new Response(
            JSON.stringify({
              detail: [{ loc: ["body", "message"], msg: "String should have at most 2000 characters" }],
            }),
            {
              status: 422,
            },
          ),
      ),
    );
    renderWithProviders(<AdminPage />);
    act(() => FakeWebSocket.last.accept());
    fireEvent.change(screen.getByTestId("announce-message"), { target: { value: "x" } });
    await act(async () => fireEvent.click(screen.getByTestId("announce-send")));
    expect(screen.getByTestId("announce-error")).toHaveTextContent(
      "message: String should have at most 2000 characters",
    );
  });
});
