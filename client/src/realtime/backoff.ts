/**
 * Reconnect delays: exponential backoff with "full jitter".
 *
 * The ceiling doubles from `baseMs` on each failed attempt up to `capMs`; the delay is
 * drawn uniformly between `floorMs` and that ceiling, so a crowd of clients that lost
 * the same server spreads its reconnects instead of arriving together.
 * See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ and
 * centrifuge-js `src/utils.ts` `backoff`.
 */

/** Parameters of the reconnect schedule. */
export interface BackoffOptions {
  /** Ceiling of the first attempt, in ms. */
  baseMs: number;
  /** Largest ceiling, in ms. */
  capMs: number;
  /** Smallest delay, in ms (e.g. a longer wait after being rate limited). */
  floorMs?: number;
  /** Uniform random number in [0, 1); injectable for tests. */
  random?: () => number;
}

/** The default schedule: 0.5 s doubling to a 30 s cap. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/** The largest delay that attempt number `attempt` (0-based) may wait, in ms. */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  // 2 ** 31 half-seconds is decades; clamping the exponent keeps the number finite.
  const exponent = Math.min(Math.max(attempt, 0), 31);
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** exponent);
  return Math.max(ceiling, options.floorMs ?? 0);
}

/** The delay before reconnect attempt number `attempt` (0-based), in whole ms. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const floor = options.floorMs ?? 0;
  const ceiling = backoffCeiling(attempt, options);
  const random = options.random ?? Math.random;
  return Math.floor(floor + random() * (ceiling - floor));
}
