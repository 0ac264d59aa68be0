import type { Poster } from '../digest/port.js';
import type { StartupError } from '../startup-error.js';

export { DeliveryError } from '../digest/port.js';

/** Connection state of an adapter, for /readyz and metrics. */
export interface AdapterStatus {
  connected: boolean;
  reason?: string;
}

/** A chat platform behind the bot. The core never sees the platform's types; digests reach it through {@link Poster}. */
export interface ChatAdapter extends Poster {
  readonly platform: 'discord' | 'matrix';
  start(): Promise<void>;
  /** Stops taking messages, waits for replies in flight, disconnects. */
  stop(): Promise<void>;
  status(): AdapterStatus;
  /**
   * Set by the runtime: called when the platform refuses the bot for good while it runs (a revoked token,
   * intents not enabled). The process then drains and exits with EXIT_STARTUP, naming the cause.
   */
  onFatal?: (err: StartupError) => void;
  /** The bounded reply queue: replies waiting, and replies shed because it was full (since start). */
  replyStats(): { pending: number; shed: number };
}

/** Waits until every tracked promise has settled (replies in flight at shutdown). */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
