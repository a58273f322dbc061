/** Reading server frames: parsing text, telling events from control frames. */

import type { EventFrame, ServerFrame, StreamPosition } from "./protocol.gen";

const CONTROL_TYPES: ReadonlySet<string> = new Set([
  "hello",
  "ack",
  "rpc_result",
  "pong",
  "error",
  "resync_required",
  "skipped",
]);

/** True for an event (anything but a control frame; event types the client does not know yet included). */
export function isEventFrame(frame: ServerFrame): frame is EventFrame {
  return !CONTROL_TYPES.has(frame.type);
}

/** Parse one text frame; null for anything that is not a JSON object with a string `type`. */
export function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  if (typeof (value as { type?: unknown }).type !== "string") return null;
  return value as ServerFrame;
}

/** A `{stream, epoch, seq}` position in an ack payload, if the server included one. */
export function streamPositionIn(payload: unknown): (StreamPosition & { stream: string }) | null {
  if (typeof payload !== "object" || payload === null) return null;
  const { stream, epoch, seq } = payload as { stream?: unknown; epoch?: unknown; seq?: unknown };
  if (typeof stream === "string" && typeof epoch === "string" && typeof seq === "number") {
    return { stream, epoch, seq };
  }
  return null;
}
