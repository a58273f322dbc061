/**
 * The reconnect schedule of one connection: the attempt count, the floor a close code imposed
 * (e.g. a longer wait after a rate-limit close) and the pending timer.
 */

import { type BackoffOptions, backoffDelay } from "./backoff";

export class RetrySchedule {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private floor = 0;
  private readonly backoff: BackoffOptions;

  constructor(backoff: BackoffOptions) {
    this.backoff = backoff;
  }

  /** Attempts made since the last reset (0 for the first connect). */
  get attempts(): number {
    return this.attempt;
  }

  /** The floor of the last scheduled wait, ms (0 when nothing imposed one). */
  get floorMs(): number {
    return this.floor;
  }

  /** Start again from the first attempt with no floor. */
  reset(): void {
    this.attempt = 0;
    this.floor = 0;
  }

  /** Remember `floorMs` for a retry that will not be timed now (e.g. the browser is offline). */
  hold(floorMs: number): void {
    this.floor = floorMs;
  }

  /** Run `retry` after the next backoff delay (at least `floorMs`); returns the delay. */
  schedule(floorMs: number, retry: () => void): number {
    this.clear();
    this.floor = floorMs;
    const delay = backoffDelay(this.attempt, { ...this.backoff, floorMs });
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      retry();
    }, delay);
    return delay;
  }

  /** Cancel a pending retry. */
  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
