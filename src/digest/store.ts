import type { Logger } from 'pino';
import type { Limiter } from '../core/rate-limit.js';

export type DigestMode = 'rotate' | 'board';

/** A digest subscription of one channel or room. */
export interface Subscription {
  id: string;
  platform: string;
  channelId: string;
  /** Topic ids in talk order; ignored when `allTopics` (then every topic, including new ones). */
  topics: string[];
  allTopics: boolean;
  /** Cron expression (presets are stored expanded). */
  schedule: string;
  timezone: string;
  mode: DigestMode;
  createdBy: string;
  createdAt: number;
  /** Rotation position: index of the next topic to post. */
  position: number;
  /** The last slot (ms since epoch) that was delivered or deliberately skipped. */
  lastSlot: number | null;
  /** Content hash of each topic as last posted, to mark what changed. */
  lastHashes: Record<string, string>;
  enabled: boolean;
  disabledReason: string | null;
}

/** A slot claimed for delivery: sent with `key`, so a re-send after a crash is dropped by the platform. */
export interface Claim {
  subscriptionId: string;
  slot: number;
  key: string;
  position: number;
  state: 'claimed' | 'delivered' | 'skipped' | 'failed';
  /** When the slot was claimed (ms since epoch): no send of it can be older. */
  claimedAt?: number;
  /** Claimed earlier (by a run that crashed or failed to record it): it may have been posted already. */
  resumed?: boolean;
}

/** One (subscription, slot) to claim with its idempotency key. */
export interface SlotRequest {
  id: string;
  slot: number;
  key: string;
}

/** A value, or a promise of it: SQLite answers synchronously, PostgreSQL asynchronously; callers await both. */
export type Awaitable<T> = T | Promise<T>;

/**
 * Storage of subscriptions, slot claims, leases and small shared state: what the scheduler, the service and
 * the commands use. Two implementations, sharing their row mapping (`src/store/rows.ts`): SQLite (one process,
 * the default: `src/store/sqlite-store.ts`) and PostgreSQL (several replicas: `src/store/pg-store.ts`); the same
 * contract tests run against both (`test/unit/store-contract.test.ts`).
 */
export interface DigestStore {
  /** True when several processes share the store: claims carry a lease and expired ones are taken over. */
  readonly shared: boolean;
  add(s: Subscription): Awaitable<void>;
  get(id: string): Awaitable<Subscription | undefined>;
  listChannel(platform: string, channelId: string): Awaitable<Subscription[]>;
  /** Enabled subscriptions; a row that cannot be read is disabled and reported through `onBad` instead. */
  listEnabled(onBad?: (id: string, reason: string) => void): Awaitable<Subscription[]>;
  remove(id: string, platform: string, channelId: string): Awaitable<boolean>;
  /**
   * Claims (subscription, slot) unless it was already claimed; returns the claim or undefined if another
   * holds or finished it. A single-process store also returns its own unfinished claim (to re-send it).
   */
  claim(id: string, slot: number, key: string): Awaitable<Claim | undefined>;
  /**
   * Shared stores: claims many slots in one round trip (a fan-out claims in batches, not one by one); returns
   * the claims this call got, the others being held or finished by another replica.
   */
  claimMany?(slots: readonly SlotRequest[]): Promise<Claim[]>;
  /** Marks a claimed slot delivered and advances the subscription (position, last slot, hashes) in one transaction. */
  finish(claim: Claim, state: 'delivered' | 'failed', hashes: Record<string, string>): Awaitable<void>;
  /** Records a slot skipped on purpose (too old to catch up). */
  skip(id: string, slot: number): Awaitable<void>;
  /** Claims this process should (re-)send now: left by a crash (SQLite), or whose lease expired, now taken over (shared). */
  unfinished(): Awaitable<Claim[]>;
  /** Extends the lease of every open claim this process holds; returns how many (0 when not shared). */
  renewClaims(): Awaitable<number>;
  disable(id: string, reason: string): Awaitable<void>;
  /**
   * Deletes finished delivery records older than `before` (ms since epoch); returns how many. Open claims
   * stay. Old records are not needed: a subscription's last slot already keeps older slots from re-running.
   */
  prune(before: number): Awaitable<number>;
  /**
   * Why the store cannot be trusted with writes now (its file was deleted or replaced), or undefined. Optional:
   * the PostgreSQL store leaves it out (a lost connection is reported by the failing query and retried by pg's
   * pool; there is no local file to lose).
   */
  health?(): string | undefined;
  /** Tries to make an unhealthy store healthy again; returns whether it is. Optional, like `health`. */
  recover?(): Promise<boolean>;
  /** Takes or renews the named lease for `holder` until `ttlMs` from now; true while `holder` has it. */
  acquireLease(name: string, holder: string, ttlMs: number): Awaitable<boolean>;
  /** Gives the lease up (only if `holder` has it), so another process may take it at once. */
  releaseLease(name: string, holder: string): Awaitable<void>;
  /** How many unexpired leases have names starting with `prefix` (live replicas: "replica:"). */
  countLeases(prefix: string): Awaitable<number>;
  /** Shared stores: records that a chat message is being answered; true only for the first caller within `ttlMs`. */
  markHandled?(id: string, ttlMs: number): Promise<boolean>;
  /** Who holds the named lease now (unexpired), if anyone. */
  leaseHolder?(name: string): Awaitable<string | undefined>;
  /** Shared stores: a per-user rate limiter shared by every replica (absent: each process limits in memory). */
  rateLimiter?(burst: number, perMinute: number, log?: Logger): Limiter;
  /** Small shared state by key (the Matrix sync token). */
  getState(key: string): Awaitable<string | undefined>;
  setState(key: string, value: string | null): Awaitable<void>;
  close(): Awaitable<void>;
}
