/**
 * When the next attempt starts: after a close that allows reconnecting, once the backoff
 * delay has passed; at once when the browser comes back online or the tab becomes visible;
 * never while the browser is offline.
 */

import type { BackoffOptions } from "./backoff";
import { type ConnectionEnvironment, watchBrowser } from "./environment";
import { RetrySchedule } from "./retry";
import type { ConnectionState, TransitionDetail } from "./state";

/** What the reconnect timing needs from its connection. */
export interface ReconnectHost {
  state(): ConnectionState;
  setState(newState: ConnectionState, detail: TransitionDetail): void;
  /** Start the next attempt now. */
  openSocket(): void;
}

/** Decides when a connection that lost its socket tries again. */
export class Reconnector {
  private readonly retry: RetrySchedule;
  private readonly env: ConnectionEnvironment;
  private readonly host: ReconnectHost;
  private unwatch: (() => void) | null = null;

  constructor(backoff: BackoffOptions, env: ConnectionEnvironment, host: ReconnectHost) {
    this.retry = new RetrySchedule(backoff);
    this.env = env;
    this.host = host;
  }

  /** Attempts made since the last reset (0 for the first connect). */
  get attempts(): number {
    return this.retry.attempts;
  }

  /** The connection starts: react to the browser from now on, and count attempts afresh. */
  start(): void {
    this.unwatch ??= watchBrowser(this.env, {
      online: this.handleOnline,
      offline: this.handleOffline,
      visible: this.handleVisible,
    });
    this.retry.reset();
  }

  /** The connection stops: no more attempts, whatever the browser does. */
  stop(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.retry.clear();
  }

  /** The server accepted a socket: the next loss starts from the first backoff step. */
  reset(): void {
    this.retry.reset();
  }

  /** An attempt starts now: a pending one is not needed any more. */
  cancelPending(): void {
    this.retry.clear();
  }

  /** The socket closed and may be replaced: wait at least `floorMs`, and for the browser to be online. */
  schedule(floorMs: number, closeCode: number | null, reason: string): void {
    if (!this.env.isOnline()) {
      this.retry.hold(floorMs);
      this.host.setState("offline", { reason: "browser offline", closeCode });
      return;
    }
    const delay = this.retry.schedule(floorMs, () => this.host.openSocket());
    this.host.setState("reconnecting", { reason, retryAt: Date.now() + delay, closeCode });
  }

  private readonly handleOnline = (): void => {
    const state = this.host.state();
    if (state === "offline" || (state === "reconnecting" && this.retry.floorMs === 0)) {
      this.retry.reset();
      this.host.openSocket();
    }
  };

  private readonly handleOffline = (): void => {
    if (this.host.state() === "reconnecting") {
      this.retry.clear();
      this.host.setState("offline", { reason: "browser offline" });
    }
  };

  private readonly handleVisible = (): void => {
    // After a rate-limit close the longer wait is kept even when the tab comes back.
    if (this.host.state() === "reconnecting" && this.retry.floorMs === 0) this.host.openSocket();
  };
}
