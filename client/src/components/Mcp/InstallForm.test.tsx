import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { HostPublic, ServerPublic } from "../../lib/mcp";
import { InstallForm } from "./InstallForm";

const host: HostPublic = {
  id: "h_1",
  name: "box",
  hostname: "10.0.0.5",
  port: 22,
  username: "deploy",
  fingerprint: "SHA256:abc",
  trusted: true,
};
const longCommand = `uv tool install --force mcp-server-time==2026.10.19 ${"&& echo step ".repeat(20)}`;
const server: ServerPublic = { id: "1", name: "Time", installCommand: longCommand, launchCommand: "mcp-server-time" };

afterEach(() => vi.restoreAllMocks());

describe("InstallForm", () => {
  it("shows the exact, untruncated command before anything runs, and runs only on confirm", async () => {
    const fetchMock = vi
      .spyOn(globalThis, "fetch")
      .mockResolvedValue(new Response(JSON.stringify({ install: { id: "i_1", state: "queued" } }), { status: 202 }));
    const started = vi.fn();
    render(<InstallForm hosts={[host]} servers={[server]} started={started} />);
    fireEvent.click(screen.getByRole("button", { name: "Install…" }));
    expect(fetchMock).not.toHaveBeenCalled();
    expect(screen.getByRole("dialog")).toHaveTextContent("Run this on deploy@10.0.0.5:22?");
    expect(screen.getByTestId("mcp-confirm-command").textContent).toBe(longCommand);
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    await waitFor(() => expect(started).toHaveBeenCalledWith({ id: "i_1", state: "queued" }));
    const [url, init] = fetchMock.mock.calls[0] ?? [];
    expect(url).toBe("/api/mcp/installs");
    expect(JSON.parse(String((init as RequestInit).body))).toEqual({ hostId: "h_1", serverId: "1" });
  });

  it("offers nothing to install until a host key is confirmed", () => {
    render(<InstallForm hosts={[{ ...host, trusted: false }]} servers={[server]} started={vi.fn()} />);
    expect(screen.queryByRole("button", { name: "Install…" })).toBeNull();
    expect(screen.getByText("Add a host and confirm its host key first.")).toBeInTheDocument();
  });
});
