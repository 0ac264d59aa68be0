import type { Logger } from 'pino';
import type { KnowledgeBase } from '../knowledge/base.js';
import type { Poster } from './port.js';
import type { DigestStore } from './store.js';

/** How fast digests may go out on one platform: sends in flight, and optionally sends (attempts) per second. */
export interface Pace {
  concurrency: number;
  perSecond?: number;
}

export const DEFAULT_PACE: Pace = { concurrency: 8 };

/** After a storage error, how long until planning is tried again, unless `storageRetryMs` says otherwise. */
export const DEFAULT_STORAGE_RETRY_MS = 30_000;

/** `found`: the post of an unfinished claim was found on the platform; `given-up`: it could not be told whether it exists, so the slot is given up rather than risk a second post. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'disabled' | 'skipped' | 'found' | 'given-up';

export interface SchedulerOptions {
  store: DigestStore;
  knowledge: KnowledgeBase;
  posters: ReadonlyMap<string, Poster>;
  logger: Logger;
  /** A slot missed while the bot was down is posted once if younger than this; older ones are skipped. */
  catchUpGraceMs: number;
  /** Per platform; a platform not listed gets {@link DEFAULT_PACE}. Each platform has its own lane, so a slow one never holds up another. */
  pace?: Readonly<Record<string, Pace>>;
  /** Backoff of a failed send: retries, first and longest wait. */
  retry?: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  now?: () => number;
  onDelivery?: (outcome: DeliveryOutcome) => void;
  /** Called for each failed read or write of the digest store (a full disk, a deleted file, an unreachable server). */
  onStorageError?: () => void;
  /** After a storage error, how long until planning is tried again (default 30 s). */
  storageRetryMs?: number;
  /**
   * Shared store only: how often this replica renews its claims' leases and takes over expired ones (a
   * quarter of the claim lease is right). Default 5 s.
   */
  renewEveryMs?: number;
  /** How many replicas share each platform's per-second pace (the live replica count); default 1. */
  paceShare?: () => number;
}

/** What the scheduler's parts (planning, delivery, recovery, storage health) share while it runs. */
export interface SchedulerRun {
  readonly opts: SchedulerOptions;
  readonly log: Logger;
  readonly now: () => number;
  /** Aborted at stop: ends backoff waits and throttled sends. */
  readonly signal: AbortSignal;
  /** Set at stop: nothing new is planned, claimed or sent. */
  stopped: boolean;
  /** Subscriptions with a slot waiting to be claimed, claimed or being sent: not run again meanwhile. */
  readonly running: Set<string>;
  /** Work that `inFlight` and `stop()` wait for; its failure is reported as a storage error, never thrown. */
  track(p: Promise<void>): void;
  /** Reports a failed read or write of the store while `doing` something (logged once per distinct reason, counted each time). */
  storageFailed(err: unknown, doing: string): void;
}
