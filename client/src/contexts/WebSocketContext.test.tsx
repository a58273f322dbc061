import { act, screen } from "@testing-library/react";
import { useState } from "react";
import { beforeEach, describe, expect, it } from "vitest";
import { FakeWebSocket } from "../test/FakeWebSocket";
import { fakeAuth, renderWithProviders } from "../test/renderWithProviders";
import { useWebSocket, useWebSocketEvent } from "./WebSocketContext";

function note(seq: number, level = "info") {
  return {
    type: "notification",
    payload: { message: `m${seq}`, from: "admin", createdAt: "2024-11-26T00:00:00Z", level },
    stream: "all",
    seq,
  };
}

function Counter({ onSeen }: { onSeen: (seq: number) => void }) {
  const [count, setCount] = useState(0);
  useWebSocketEvent("notification", (frame) => {
    onSeen(frame.seq ?? -1);
    setCount((c) => c + 1);
  });
  return <output data-testid="count">{count}</output>;
}

function WarningListener({ calls, expose }: { calls: string[]; expose: (relabel: (label: string) => void) => void }) {
  const [label, setLabel] = useState("first");
  expose(setLabel);
  useWebSocketEvent(
    "notification",
    (frame) => calls.push(`${label}:${frame.payload.message}`),
    (frame) => frame.payload.level === "warning",
  );
  return null;
}

function Probe() {
  const { state, lastMessage } = useWebSocket();
  return (
    <p data-testid="probe">
      {state} {lastMessage?.type ?? "none"}
    </p>
  );
}

beforeEach(() => {
  FakeWebSocket.reset();
});

describe("useWebSocketEvent", () => {
  it("delivers each of 100 events dispatched synchronously in one tick, exactly once", () => {
    const seen: number[] = [];
    renderWithProviders(<Counter onSeen={(seq) => seen.push(seq)} />);
    act(() => FakeWebSocket.last.accept({ all: { epoch: "a", seq: 0 } }));
    act(() => {
      for (let seq = 1; seq <= 100; seq++) FakeWebSocket.last.receive(note(seq));
    });
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(screen.getByTestId("count")).toHaveTextContent("100");
  });

  it("applies the filter and always calls the latest handler", () => {
    const calls: string[] = [];
    let relabel: (label: string) => void = () => {};
    renderWithProviders(
      <WarningListener
        calls={calls}
        expose={(fn) => {
          relabel = fn;
        }}
      />,
    );
    act(() => FakeWebSocket.last.accept({ all: { epoch: "a", seq: 0 } }));
    act(() => FakeWebSocket.last.receive(note(1, "warning")));
    act(() => FakeWebSocket.last.receive(note(2)));
    act(() => relabel("second"));
    act(() => FakeWebSocket.last.receive(note(3, "warning")));
    expect(calls).toEqual(["first:m1", "second:m3"]);
  });
});

describe("WebSocketProvider", () => {
  it("connects only while signed in", () => {
    renderWithProviders(<span />, { auth: fakeAuth({ status: "signed_out", user: null }) });
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("exposes the state and the last message through useWebSocket", () => {
    renderWithProviders(<Probe />);
    expect(screen.getByTestId("probe")).toHaveTextContent("connecting none");
    act(() => FakeWebSocket.last.accept());
    expect(screen.getByTestId("probe")).toHaveTextContent("open hello");
  });

  it("sends the user to sign-in when the session ends (4401)", () => {
    const auth = fakeAuth();
    renderWithProviders(<span />, { auth });
    act(() => FakeWebSocket.last.accept());
    act(() => FakeWebSocket.last.serverClose(4401));
    expect(auth.endSession).toHaveBeenCalledOnce();
  });

  it("re-checks the session when a socket is refused before opening", () => {
    const auth = fakeAuth();
    renderWithProviders(<span />, { auth });
    act(() => FakeWebSocket.last.serverClose(1006));
    expect(auth.recheck).toHaveBeenCalledOnce();
  });
});
