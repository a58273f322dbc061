import { useCallback, useEffect, useRef, useState } from "react";
import { useWebSocketEvent } from "../../contexts/WebSocketContext";
import { cancelInstall, FINAL_STATES, getInstall, type InstallPublic, verifyAgain } from "../../lib/mcp";
import { InstallTerminal } from "./InstallTerminal";

const LABELS: Record<InstallPublic["state"], string> = {
  queued: "Queued",
  connecting: "Connecting",
  running: "Running",
  verifying: "Verifying",
  succeeded: "Installed",
  failed: "Failed",
  error: "Error",
  timed_out: "Timed out",
  cancelled: "Cancelled",
};

/** One install: its state live, its tools once verified, cancel / verify again, and the terminal. */
export function InstallView({
  installId,
  opened,
  changed,
}: {
  installId: string;
  opened: (install: InstallPublic) => void;
  changed: () => void;
}) {
  const [install, setInstall] = useState<InstallPublic | null>(null);
  const [error, setError] = useState<string | null>(null);
  const section = useRef<HTMLElement>(null);

  // Opening an install (often from the form below) brings its terminal into view: xterm also
  // pauses rendering while it is off screen.
  useEffect(() => {
    if (installId) section.current?.scrollIntoView?.({ block: "start" });
  }, [installId]);

  const load = useCallback(() => {
    getInstall(installId).then(setInstall, (caught: unknown) =>
      setError(caught instanceof Error ? caught.message : String(caught)),
    );
  }, [installId]);
  useEffect(load, [load]);

  useWebSocketEvent(
    "mcp_install",
    (frame) => {
      const { state, exitStatus, message } = frame.payload;
      setInstall((current) =>
        current ? { ...current, state, exitStatus: exitStatus ?? null, message: message ?? "" } : current,
      );
      // The final state brings the tools: read the install once more, and the list around it.
      if (FINAL_STATES.includes(state)) {
        load();
        changed();
      }
    },
    (frame) => frame.payload.installId === installId,
  );

  const act = async (action: () => Promise<InstallPublic>) => {
    setError(null);
    try {
      const result = await action();
      if (result.id === installId) setInstall(result);
      else opened(result);
      changed();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const active = install !== null && !FINAL_STATES.includes(install.state);
  return (
    <section ref={section} aria-labelledby="mcp-install-view-title" className="mcp-install">
      <h2 id="mcp-install-view-title">
        {install ? `${install.verifyOnly ? "Verify" : "Install"}: ${install.serverName}` : "Install"}
      </h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {install && (
        <>
          <pre className="mcp-command">{install.command}</pre>
          <p>
            <strong data-testid="mcp-install-state" data-state={install.state}>
              {LABELS[install.state]}
            </strong>
            {install.exitStatus !== null && <span> (exit status {install.exitStatus})</span>}
            {" — "}
            <span data-testid="mcp-install-message">{install.message}</span>
          </p>
          {active ? (
            <button type="button" onClick={() => void act(() => cancelInstall(installId))}>
              Cancel install
            </button>
          ) : (
            <button type="button" onClick={() => void act(() => verifyAgain(installId))}>
              Verify again
            </button>
          )}
          {install.tools && (
            <ul aria-label="Tools" className="mcp-tools">
              {install.tools.map((tool) => (
                <li key={tool.name}>
                  <code>{tool.name}</code> — {tool.description}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <InstallTerminal installId={installId} />
    </section>
  );
}
