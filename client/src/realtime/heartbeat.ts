/**
 * Client heartbeat: notices a socket that has gone silent.
 *
 * Browsers answer the server's protocol pings without telling the page, so silence is
 * measured on application frames: after `2 × heartbeatInterval + 5 s` without any frame,
 * `onSilence` runs (the connection sends an app-level `ping`); if still nothing arrives
 * within `answerTimeoutMs`, `onDead` runs (the connection closes and reconnects).
 * Model: react-use-websocket `src/lib/heartbeat.ts`.
 */

/** Extra wait on top of two heartbeat intervals, ms. */
export const SILENCE_GRACE_MS = 5_000;
/** How long a ping may go unanswered, ms. */
export const PING_ANSWER_TIMEOUT_MS = 5_000;

/** Watches a socket for silence. */
export class Heartbeat {
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private answerTimer: ReturnType<typeof setTimeout> | null = null;
  private intervalMs = 25_000;
  private readonly onSilence: () => void;
  private readonly onDead: () => void;
  private readonly answerTimeoutMs: number;

  constructor(onSilence: () => void, onDead: () => void, answerTimeoutMs = PING_ANSWER_TIMEOUT_MS) {
    this.onSilence = onSilence;
    this.onDead = onDead;
    this.answerTimeoutMs = answerTimeoutMs;
  }

  /** Start watching, with the server's heartbeat interval in seconds. */
  start(intervalSeconds: number): void {
    this.intervalMs = intervalSeconds * 1000;
    this.beat();
  }

  /** A frame arrived: the socket is alive. */
  beat(): void {
    this.stop();
    this.silenceTimer = setTimeout(
      () => {
        this.silenceTimer = null;
        this.answerTimer = setTimeout(() => {
          this.answerTimer = null;
          this.onDead();
        }, this.answerTimeoutMs);
        this.onSilence();
      },
      2 * this.intervalMs + SILENCE_GRACE_MS,
    );
  }

  /** Stop watching. */
  stop(): void {
    if (this.silenceTimer !== null) clearTimeout(this.silenceTimer);
    if (this.answerTimer !== null) clearTimeout(this.answerTimer);
    this.silenceTimer = null;
    this.answerTimer = null;
  }
}
