import "@xterm/xterm/css/xterm.css";
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import { useConnection } from "../../contexts/WebSocketContext";
import { getLog, type LogChunk, logDownloadUrl } from "../../lib/mcp";
import { LogAssembler, type Piece } from "./logAssembler";

/** Lines the terminal keeps; older ones scroll away (the full log is a download). */
export const SCROLLBACK = 5000;

const STDERR = "\x1b[31m";
const RESET = "\x1b[0m";

/**
 * An install's output in a terminal widget, exact to the byte across reloads and reconnects.
 *
 * Live chunks are held back while the stored log is fetched by offset, page by page (after the subscription
 * is acknowledged, so nothing falls between the two); the {@link LogAssembler} then drops what
 * was already written. A resync (history lost on the server) fetches what is missing again.
 * Writes are batched per animation frame so chatty output costs one terminal write per frame.
 */
export function InstallTerminal({ installId }: { installId: string }) {
  const connection = useConnection();
  const container = useRef<HTMLDivElement>(null);
  const [bytes, setBytes] = useState(0);
  const [hidden, setHidden] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const terminal = new Terminal({
      convertEol: true,
      disableStdin: true,
      scrollback: SCROLLBACK,
      fontSize: 13,
      rows: 24,
      cols: 100,
    });
    terminal.open(element);
    const topic = `mcp_install:${installId}`;
    const assembler = new LogAssembler();
    let pending: LogChunk[] | null = [];
    let batch: string[] = [];
    let frame = 0;
    let lines = 0;
    let closed = false;

    const flush = () => {
      frame = 0;
      if (batch.length === 0) return;
      terminal.write(batch.join(""));
      batch = [];
      setBytes(assembler.next);
      setHidden(lines > SCROLLBACK);
    };
    const write = (piece: Piece | null) => {
      if (!piece) return;
      if (piece.omitted > 0) {
        batch.push(`\x1b[33m[... ${piece.omitted} bytes omitted: download the full log ...]${RESET}\n`);
        lines += 1;
      }
      batch.push(piece.stream === "stderr" ? `${STDERR}${piece.text}${RESET}` : piece.text);
      for (let i = piece.text.indexOf("\n"); i !== -1; i = piece.text.indexOf("\n", i + 1)) lines += 1;
      if (frame === 0) frame = requestAnimationFrame(flush);
    };
    const catchUp = async () => {
      if (pending === null) pending = [];
      try {
        // About a MiB per answer: read on until the stored log is exhausted.
        for (;;) {
          const log = await getLog(installId, assembler.next);
          if (closed) return;
          for (const chunk of log.chunks) write(assembler.accept(chunk));
          if (log.chunks.length === 0 || assembler.next >= log.size) break;
        }
        setError(null);
      } catch (caught) {
        if (!closed) setError(caught instanceof Error ? caught.message : String(caught));
      } finally {
        for (const chunk of pending ?? []) write(assembler.accept(chunk));
        pending = null;
      }
    };

    const offMessage = connection.on("message", (message) => {
      if (message.type !== "mcp_install_output" || message.payload.installId !== installId) return;
      if (pending) pending.push(message.payload);
      else write(assembler.accept(message.payload));
    });
    const offSubscribed = connection.on("subscribed", ({ topic: acked }) => {
      if (acked === topic) void catchUp();
    });
    const offResync = connection.onResync(`topic:${topic}`, () => void catchUp());
    const unsubscribe = connection.subscribe(topic);
    return () => {
      closed = true;
      if (frame) cancelAnimationFrame(frame);
      offMessage();
      offSubscribed();
      offResync();
      unsubscribe();
      terminal.dispose();
    };
  }, [connection, installId]);

  return (
    <div className="mcp-terminal">
      <div className="mcp-terminal__bar">
        <span data-testid="mcp-log-bytes" data-bytes={bytes}>
          {bytes.toLocaleString()} bytes
        </span>
        {hidden && <span role="status">Earlier output hidden — download the full log.</span>}
        <a href={logDownloadUrl(installId)} download>
          Download the full log
        </a>
      </div>
      {error && (
        <p role="alert" className="error">
          Could not load the output: {error}
        </p>
      )}
      <div ref={container} data-testid="mcp-terminal" className="mcp-terminal__screen" />
    </div>
  );
}
