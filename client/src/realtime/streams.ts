/**
 * Stream positions: which events to deliver, which to drop, when to resume or resync.
 *
 * Pure bookkeeping, no I/O: each method takes what arrived and returns {@link StreamActions}
 * for the connection to carry out. Every stream (`user:<id>`, `topic:<name>`, `all`) has an
 * epoch and a `seq` that rises by exactly 1, so the client can see duplicates (seq at or below
 * the last delivered: dropped) and gaps (seq beyond last + 1: buffered, then `resume`).
 * While a `resume` for a stream is outstanding, its events are buffered; the server replays
 * before it acks, and the ack releases the buffer in seq order.
 * Model: centrifuge's `StreamPosition` (epoch + offset) and centrifuge-js's recovery.
 */

import type { EventFrame, ResyncPayload, SkippedPayload, StreamPosition } from "./protocol.gen";

/** An event that belongs to a stream. */
export type StreamEvent = EventFrame & { stream: string; seq: number };

/** What the connection must do after the tracker has seen something. */
export interface StreamActions {
  /** Events to hand to the application, in this order. */
  deliver: StreamEvent[];
  /** Positions to send in one `resume` request, or null when nothing is to be resumed. */
  resume: Record<string, StreamPosition> | null;
  /** Streams whose state the application must refetch (resync handlers). */
  resync: string[];
}

interface StreamState {
  /** null while the stream is known only from its events (no hello or ack named its epoch). */
  epoch: string | null;
  /** The last seq delivered. */
  seq: number;
  /** Events held back while a resume for this stream is outstanding, by seq. */
  buffer: Map<number, StreamEvent> | null;
  /** Seqs the server announced as superseded (conflated): they will not arrive and are no gap. */
  skipped: Set<number> | null;
}

/** True for an event frame that carries a stream position. */
export function isStreamEvent(frame: EventFrame): frame is StreamEvent {
  return typeof frame.stream === "string" && typeof frame.seq === "number";
}

function noActions(): StreamActions {
  return { deliver: [], resume: null, resync: [] };
}

/** Tracks the last delivered position of every stream this client has seen. */
export class StreamTracker {
  private readonly streams = new Map<string, StreamState>();

  /** The last delivered position of `stream`, if known. */
  position(stream: string): { epoch: string | null; seq: number } | undefined {
    const state = this.streams.get(stream);
    return state ? { epoch: state.epoch, seq: state.seq } : undefined;
  }

  /** True while a resume for `stream` is outstanding. */
  isBuffering(stream: string): boolean {
    return this.streams.get(stream)?.buffer != null;
  }

  /**
   * Reconcile with the positions in a `hello` frame.
   *
   * Unknown streams adopt the server's position; a changed epoch means the history is gone
   * (resync); the same epoch with a higher seq means events were missed (resume).
   */
  onHello(positions: Record<string, StreamPosition>): StreamActions {
    const actions = noActions();
    for (const [stream, position] of Object.entries(positions)) {
      this.reconcile(stream, position, actions);
    }
    return actions;
  }

  /** Reconcile one stream with a position the server announced (e.g. in a subscribe ack). */
  onPosition(stream: string, position: StreamPosition): StreamActions {
    const actions = noActions();
    this.reconcile(stream, position, actions);
    return actions;
  }

  /** Decide what to do with one live (or replayed) event. */
  onEvent(event: StreamEvent): StreamActions {
    const actions = noActions();
    const state = this.streams.get(event.stream);
    if (!state) {
      // First event of a stream no hello named (e.g. a topic just joined): start here.
      this.streams.set(event.stream, { epoch: null, seq: event.seq, buffer: null, skipped: null });
      actions.deliver.push(event);
      return actions;
    }
    skipAhead(state);
    if (event.seq <= state.seq) return actions; // duplicate
    if (state.buffer) {
      if (!state.buffer.has(event.seq)) state.buffer.set(event.seq, event);
      return actions;
    }
    if (event.seq === state.seq + 1) {
      state.seq = event.seq;
      actions.deliver.push(event);
      return actions;
    }
    // A gap.
    if (state.epoch === null) {
      // Without an epoch a resume cannot be asked for: take the loss and refetch.
      state.seq = event.seq;
      actions.deliver.push(event);
      actions.resync.push(event.stream);
      return actions;
    }
    state.buffer = new Map([[event.seq, event]]);
    actions.resume = { [event.stream]: { epoch: state.epoch, seq: state.seq } };
    return actions;
  }

  /** The server acknowledged a resume of `streams`: release their buffers in seq order. */
  onResumeDone(streams: Iterable<string>): StreamActions {
    const actions = noActions();
    for (const stream of streams) {
      const state = this.streams.get(stream);
      if (!state?.buffer) continue;
      const complete = this.drain(stream, state, actions);
      if (!complete) actions.resync.push(stream);
    }
    return actions;
  }

  /** A resume of `streams` failed (error or timeout): release the buffers and refetch. */
  onResumeFailed(streams: Iterable<string>): StreamActions {
    const actions = noActions();
    for (const stream of streams) {
      const state = this.streams.get(stream);
      if (!state?.buffer) continue;
      this.drain(stream, state, actions);
      actions.resync.push(stream);
    }
    return actions;
  }

  /** The server cannot replay `stream`: adopt its position and refetch. */
  onResyncRequired(payload: ResyncPayload): StreamActions {
    const actions = noActions();
    let state = this.streams.get(payload.stream);
    if (!state) {
      state = { epoch: payload.epoch, seq: payload.seq, buffer: null, skipped: null };
      this.streams.set(payload.stream, state);
    }
    if (state.epoch !== payload.epoch) {
      // A new epoch numbers its seqs afresh: what was buffered or skipped belongs to the old one.
      state.buffer = null;
      state.skipped = null;
    }
    state.epoch = payload.epoch;
    state.seq = payload.seq;
    if (state.buffer) this.drain(payload.stream, state, actions);
    actions.resync.push(payload.stream);
    return actions;
  }

  /**
   * The server superseded these seqs with newer state while the socket was stalled
   * (conflation): count them as seen, then deliver any buffered events they unblock.
   */
  onSkipped(payload: SkippedPayload): StreamActions {
    const actions = noActions();
    const state = this.streams.get(payload.stream);
    if (!state) return actions;
    state.skipped ??= new Set();
    for (const seq of payload.seqs) if (seq > state.seq) state.skipped.add(seq);
    skipAhead(state);
    return actions;
  }

  /** The socket closed: buffered events are dropped (they will be replayed); positions stay. */
  onDisconnect(): void {
    for (const state of this.streams.values()) state.buffer = null;
  }

  /** Forget every stream (sign-out). */
  clear(): void {
    this.streams.clear();
  }

  private reconcile(stream: string, position: StreamPosition, actions: StreamActions): void {
    const state = this.streams.get(stream);
    if (!state) {
      this.streams.set(stream, { epoch: position.epoch, seq: position.seq, buffer: null, skipped: null });
      return;
    }
    if (state.epoch === null) state.epoch = position.epoch;
    if (state.epoch !== position.epoch) {
      state.epoch = position.epoch;
      state.seq = position.seq;
      // Buffered events and skipped seqs were numbered in the old epoch.
      state.buffer = null;
      state.skipped = null;
      actions.resync.push(stream);
      return;
    }
    if (position.seq > state.seq && !state.buffer) {
      state.buffer = new Map();
      actions.resume ??= {};
      actions.resume[stream] = { epoch: state.epoch, seq: state.seq };
    }
  }

  /** Deliver the buffer in seq order, skipping what was delivered; false if a gap remained. */
  private drain(stream: string, state: StreamState, actions: StreamActions): boolean {
    const buffer = state.buffer;
    state.buffer = null;
    if (!buffer) return true;
    let complete = true;
    for (const seq of [...buffer.keys()].sort((a, b) => a - b)) {
      skipAhead(state);
      if (seq <= state.seq) continue;
      if (seq !== state.seq + 1) complete = false;
      state.seq = seq;
      const event = buffer.get(seq);
      if (event && event.stream === stream) actions.deliver.push(event);
    }
    return complete;
  }
}

/** Move past seqs announced as skipped that directly follow the last delivered one. */
function skipAhead(state: StreamState): void {
  const skipped = state.skipped;
  if (!skipped) return;
  while (skipped.delete(state.seq + 1)) state.seq += 1;
  for (const seq of skipped) if (seq <= state.seq) skipped.delete(seq);
  if (skipped.size === 0) state.skipped = null;
}
