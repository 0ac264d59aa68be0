import type { Logger } from 'pino';
import { DEFAULT_STORAGE_RETRY_MS, type SchedulerOptions } from './scheduler-options.js';
import type { Claim } from './store.js';

/** A slot whose outcome is known but could not be written (storage error): written before anything else is planned. */
export interface Unrecorded {
  claim: Claim;
  state: 'delivered' | 'failed';
  hashes: Record<string, string>;
}

/**
 * Whether the digest store can be used now, for the scheduler: the last storage error, outcomes waiting to be
 * written once it works again, and a deleted database file (reported once, then restored from the open
 * connection at the storage retry pace).
 */
export class StorageHealth {
  private storageProblem: string | undefined;
  private lostReported = false;
  private recoverAt = 0;
  private readonly unrecorded = new Map<string, Unrecorded>();

  constructor(
    private readonly opts: SchedulerOptions,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Why digests cannot be stored now (a storage error, or the database file deleted), or undefined when they can. */
  problem(): string | undefined {
    const lost = this.opts.store.health?.();
    return lost ?? this.storageProblem;
  }

  /** Reports a failed read or write: logged once per distinct reason, counted each time. */
  failed(err: unknown, doing: string): void {
    const reason = `storage error while ${doing}: ${(err as Error).message}`;
    if (reason !== this.storageProblem) this.log.error({ err }, `digest ${reason}; digests wait until it can be written, questions are still answered`);
    this.storageProblem = reason;
    this.opts.onStorageError?.();
  }

  /** A planning pass read and wrote the store: the last storage error is over. */
  works(): void {
    if (this.storageProblem) this.log.info('digest storage works again');
    this.storageProblem = undefined;
  }

  /** Keeps an outcome that could not be written, to write it before anything else is planned. */
  keep(subscriptionId: string, outcome: Unrecorded): void {
    this.unrecorded.set(subscriptionId, outcome);
  }

  /** Whether the subscription has an outcome still to be written (its next slot waits for it). */
  waitsToRecord(subscriptionId: string): boolean {
    return this.unrecorded.has(subscriptionId);
  }

  /** Writes outcomes that a storage error kept from being recorded (throws while storage still fails). */
  async flushUnrecorded(): Promise<void> {
    for (const [id, u] of this.unrecorded) {
      await this.opts.store.finish(u.claim, u.state, u.hashes);
      this.unrecorded.delete(id);
    }
  }

  /** A deleted database file: reported once, then restored from the open connection at the storage retry pace. */
  checkFile(): void {
    const lost = this.opts.store.health?.();
    if (!lost) {
      this.lostReported = false;
      return;
    }
    if (!this.lostReported) {
      this.lostReported = true;
      this.opts.onStorageError?.();
      this.log.error(`digest database problem: ${lost}; new subscriptions are refused until it is restored`);
      this.recoverAt = this.now() + this.retryMs();
    }
    if (this.now() < this.recoverAt || !this.opts.store.recover) return;
    this.recoverAt = this.now() + this.retryMs();
    this.opts.store.recover().then(
      (ok) => {
        if (ok) {
          this.lostReported = false;
          this.log.info('digest database file restored from the open database; subscriptions are taken again');
        }
      },
      (err: unknown) => this.log.error({ err }, 'digest database could not be restored; restart the bot to start from what is on disk'),
    );
  }

  /** When planning should be tried again because of a storage problem (after a pass at `passAt`); infinity when there is none. */
  retryAt(passAt: number): number {
    let at = Number.POSITIVE_INFINITY;
    if (this.storageProblem) at = passAt + this.retryMs();
    if (this.lostReported) at = Math.min(at, this.recoverAt);
    return at;
  }

  private retryMs(): number {
    return this.opts.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS;
  }
}
