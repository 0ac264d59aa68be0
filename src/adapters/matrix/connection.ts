/** The Matrix connection's state for /readyz, and reconnecting to a homeserver that is down at start-up. */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { StartupError } from '../../startup-error.js';
import type { AdapterStatus } from '../types.js';
import { homeserverError, type HomeserverError } from './errors.js';

/** Waits between attempts to reach a homeserver that is down at start-up (doubling from the first, capped). */
export const CONNECT_BACKOFF = { firstMs: 1000, maxMs: 60_000 };

/** Connected or not, and why not. */
export class ConnectionState {
  private connected = false;
  private reason = 'not started';

  constructor(private readonly log: Logger) {}

  set(connected: boolean, reason: string): void {
    this.connected = connected;
    this.reason = reason;
  }

  status(): AdapterStatus {
    return this.connected ? { connected: true } : { connected: false, reason: this.reason };
  }

  /** Follows the sync loop: connected after each /sync answered, disconnected at each one that failed. */
  onSyncResult(err?: unknown): void {
    if (err === undefined) {
      if (!this.connected) this.log.info('Matrix sync is back');
      this.set(true, 'syncing');
      return;
    }
    const e = homeserverError(err);
    if (this.connected) this.log.warn({ reason: e.message }, 'Matrix sync failed; the SDK retries in 5–15 s');
    this.set(false, `sync failing (${e.message})`);
  }
}

export interface Reconnect {
  connect: () => Promise<void>;
  state: ConnectionState;
  log: Logger;
  signal: AbortSignal;
  backoff?: { firstMs: number; maxMs: number };
  /** Called when the homeserver refuses the bot for good (a rejected token). */
  onFatal: (err: StartupError) => void;
}

/** Retries `connect` until it works, `signal` aborts, or the bot is refused for good (then onFatal). */
export async function connectInBackground(first: HomeserverError, r: Reconnect): Promise<void> {
  let wait = r.backoff?.firstMs ?? CONNECT_BACKOFF.firstMs;
  const max = r.backoff?.maxMs ?? CONNECT_BACKOFF.maxMs;
  let last: Error = first;
  while (!r.signal.aborted) {
    r.state.set(false, `homeserver unreachable (${last.message}); retrying in ${Math.round(wait / 1000)} s`);
    await delay(wait, undefined, { signal: r.signal }).catch(() => undefined);
    if (r.signal.aborted) return;
    try {
      await r.connect();
      return;
    } catch (err) {
      if (err instanceof StartupError) {
        r.state.set(false, err.message);
        r.onFatal(err);
        return;
      }
      last = homeserverError(err);
      r.log.warn({ reason: last.message }, 'homeserver still unreachable');
      wait = Math.min(wait * 2, max);
    }
  }
}
