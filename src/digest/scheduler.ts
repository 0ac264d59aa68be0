import pLimit from 'p-limit';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { Reply } from '../core/reply.js';
import type { KnowledgeBase } from '../knowledge/base.js';
import { DeliveryError } from '../adapters/types.js';
import { digestContent } from './content.js';
import { nextSlots, previousSlot } from './schedule.js';
import type { Claim, DigestStore, Subscription } from './store.js';

/** Something that can post to a channel of one platform (a chat adapter, or the console). */
export interface Poster {
  post(channelId: string, reply: Reply, key: string): Promise<void>;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'disabled' | 'skipped';

export interface SchedulerOptions {
  store: DigestStore;
  knowledge: KnowledgeBase;
  posters: ReadonlyMap<string, Poster>;
  logger: Logger;
  /** A slot missed while the bot was down is posted once if younger than this; older ones are skipped. */
  catchUpGraceMs: number;
  concurrency?: number;
  /** Backoff of a failed send: retries, first and longest wait. */
  retry?: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  now?: () => number;
  onDelivery?: (outcome: DeliveryOutcome) => void;
}

/** The idempotency key of a (subscription, slot): at most 25 characters (Discord's nonce limit). */
export function slotKey(subscriptionId: string, slot: number): string {
  return `${subscriptionId}-${slot.toString(36)}`.slice(0, 25);
}

/**
 * Posts digests at their slots. Each (subscription, slot) is claimed in the
 * store before it is sent and marked delivered after, so it is delivered at
 * most once; a claim left by a crash is re-sent with the same idempotency
 * key, which the platform de-duplicates.
 */
export class DigestScheduler {
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private readonly running = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: SchedulerOptions) {
    this.limit = pLimit(opts.concurrency ?? 8);
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'digests' });
  }

  /** Re-sends unfinished claims, catches up on missed slots (at most one each), then runs on schedule. */
  start(): void {
    this.stopped = false;
    for (const claim of this.opts.store.unfinished()) {
      if (this.now() - claim.slot > this.opts.catchUpGraceMs) {
        this.log.warn({ subscription: claim.subscriptionId, slot: new Date(claim.slot).toISOString() }, 'unfinished digest claim is too old to re-send; dropped');
        this.opts.store.finish(claim, 'failed', this.opts.store.get(claim.subscriptionId)?.lastHashes ?? {});
        continue;
      }
      const sub = this.opts.store.get(claim.subscriptionId);
      if (sub) this.launch(sub, claim);
    }
    this.wake();
  }

  /** Re-plans (after a subscribe or unsubscribe). */
  wake(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    let nextAt = this.now() + 60_000;
    for (const sub of this.opts.store.listEnabled()) {
      this.runDue(sub);
      const next = nextSlots(sub.schedule, sub.timezone, new Date(this.now()), 1)[0];
      if (next) nextAt = Math.min(nextAt, next.getTime());
    }
    // Wake at the earliest slot (at least once a minute, so clock jumps are noticed).
    this.timer = setTimeout(() => this.wake(), Math.max(0, nextAt - this.now()) + 5);
    this.timer.unref?.();
  }

  /** Stops planning, aborts backoff waits, and waits for sends in flight; an unfinished claim stays claimed for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Sends still in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  private runDue(sub: Subscription): void {
    if (this.running.has(sub.id)) return;
    const slot = previousSlot(sub.schedule, sub.timezone, new Date(this.now()))?.getTime();
    if (slot === undefined || slot <= (sub.lastSlot ?? sub.createdAt)) return;
    if (this.now() - slot > this.opts.catchUpGraceMs) {
      this.log.info({ subscription: sub.id, slot: new Date(slot).toISOString() }, 'missed digest slot is older than the catch-up grace; skipped');
      this.opts.store.skip(sub.id, slot);
      this.opts.onDelivery?.('skipped');
      return;
    }
    const claim = this.opts.store.claim(sub.id, slot, slotKey(sub.id, slot));
    if (claim) this.launch(sub, claim);
  }

  private launch(sub: Subscription, claim: Claim): void {
    this.running.add(sub.id);
    const p = this.limit(() => this.deliver(sub, claim)).finally(() => {
      this.running.delete(sub.id);
      this.pending.delete(p);
    });
    this.pending.add(p);
  }

  private async deliver(sub: Subscription, claim: Claim): Promise<void> {
    if (this.stopped) return; // queued behind the concurrency limit when shutdown began: stays claimed
    const poster = this.opts.posters.get(sub.platform);
    const log = this.log.child({ subscription: sub.id, platform: sub.platform, channel: sub.channelId, slot: new Date(claim.slot).toISOString() });
    if (!poster) {
      log.warn('no adapter for this platform is running; the slot stays claimed until one is');
      return;
    }
    const { reply, hashes } = digestContent(this.opts.knowledge.current.knowledge, sub, claim.position);
    const r = this.opts.retry ?? { retries: 5, minTimeoutMs: 1000, maxTimeoutMs: 60_000 };
    try {
      await pRetry(() => poster.post(sub.channelId, reply, claim.key), {
        retries: r.retries,
        minTimeout: r.minTimeoutMs,
        maxTimeout: r.maxTimeoutMs,
        signal: this.abort.signal,
        shouldRetry: ({ error }) => !(error instanceof DeliveryError && error.permanent),
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft > 0 && !(error instanceof DeliveryError && error.permanent)) log.warn({ err: error, attempt: attemptNumber }, 'digest send failed; retrying');
        },
      });
    } catch (err) {
      if (this.stopped) {
        log.info('shutdown during a digest send; the slot stays claimed and is re-sent with the same key at start-up');
        return;
      }
      if (err instanceof DeliveryError && err.permanent) {
        this.opts.store.disable(sub.id, err.message);
        this.opts.store.finish(claim, 'failed', sub.lastHashes);
        log.warn({ err }, 'channel is gone or forbids the bot; digest disabled');
        this.opts.onDelivery?.('disabled');
        return;
      }
      this.opts.store.finish(claim, 'failed', sub.lastHashes);
      log.error({ err }, 'digest send failed after retries; slot dropped');
      this.opts.onDelivery?.('failed');
      return;
    }
    this.opts.store.finish(claim, 'delivered', hashes);
    log.info('digest delivered');
    this.opts.onDelivery?.('delivered');
  }
}
