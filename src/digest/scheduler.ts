import type { Logger } from 'pino';
import { DigestDelivery } from './delivery.js';
import { SlotPlanner } from './planning.js';
import { SlotRecovery } from './recovery.js';
import { DigestSender } from './send.js';
import type { SchedulerOptions, SchedulerRun } from './scheduler-options.js';
import { StorageHealth } from './storage-health.js';
import type { Subscription } from './store.js';

export { slotKey } from './delivery.js';
export type { Poster } from './port.js';
export { DEFAULT_PACE, type DeliveryOutcome, type Pace, type SchedulerOptions } from './scheduler-options.js';

/** Finished delivery records are kept this long (for inspection), then pruned, at most once an hour. */
const KEEP_DELIVERIES_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/**
 * Posts digests at their slots. Each (subscription, slot) is claimed in the
 * store before it is sent and marked delivered after, so it is delivered at
 * most once; a claim left by a crash is re-sent with the same idempotency
 * key, which the platform de-duplicates.
 *
 * This class runs the passes and the timer; which slots are due is {@link SlotPlanner}'s, claiming and queueing
 * {@link DigestDelivery}'s, sending {@link DigestSender}'s, slots left by a restart or an outage {@link SlotRecovery}'s, and the store's state
 * {@link StorageHealth}'s.
 */
export class DigestScheduler {
  private timer?: NodeJS.Timeout;
  private timerAt = Number.POSITIVE_INFINITY;
  private renewTimer?: NodeJS.Timeout;
  private prunedAt = 0;
  /** A planning pass is running / another was asked for meanwhile. */
  private planning = false;
  private replan = false;
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly run: SchedulerRun;
  private readonly health: StorageHealth;
  private readonly planner: SlotPlanner;
  private readonly delivery: DigestDelivery;
  private readonly recovery: SlotRecovery;

  constructor(private readonly opts: SchedulerOptions) {
    const log: Logger = opts.logger.child({ component: 'digests' });
    const now = opts.now ?? Date.now;
    this.health = new StorageHealth(opts, log, now);
    this.run = {
      opts,
      log,
      now,
      signal: this.abort.signal,
      stopped: true,
      running: new Set(),
      track: (p) => this.track(p),
      storageFailed: (err, doing) => this.health.failed(err, doing),
    };
    this.planner = new SlotPlanner(this.run);
    this.delivery = new DigestDelivery(this.run, new DigestSender(this.run, this.health), (id) => this.planNext(id));
    this.recovery = new SlotRecovery(this.run, this.planner, this.delivery);
  }

  /**
   * Re-sends unfinished claims, catches up on missed slots (at most one each), then runs on schedule. With a
   * shared store it also renews its claims and takes over expired ones (a dead replica's) every `renewEveryMs`.
   */
  start(): void {
    this.run.stopped = false;
    this.track(this.recovery.resume().then(() => this.wake()));
    if (this.opts.store.shared) {
      const every = this.opts.renewEveryMs ?? 5000;
      this.renewTimer = setInterval(() => this.track(this.recovery.renewAndTakeOver()), every);
      this.renewTimer.unref?.();
    }
  }

  /** Why digests cannot be stored now (a storage error, or the database file deleted), or undefined when they can. */
  problem(): string | undefined {
    return this.health.problem();
  }

  /**
   * Re-plans (at each slot, after a subscribe or unsubscribe, and at least once a minute). Due subscriptions
   * are claimed and launched in chunks, yielding to the event loop in between, so a fan-out of thousands
   * never holds up replies to people.
   */
  wake(): void {
    if (this.run.stopped) return;
    if (this.planning) {
      this.replan = true;
      return;
    }
    this.planning = true;
    clearTimeout(this.timer);
    this.track(
      this.planPass().finally(() => {
        this.planning = false;
        if (this.replan) {
          this.replan = false;
          this.wake();
        } else if (!this.run.stopped && !this.timer) this.retryLater();
      }),
    );
  }

  /**
   * Stops planning, aborts backoff waits, and waits up to `waitMs` for sends in flight (a platform that
   * never answers must not hold up shutdown); an unfinished claim stays claimed for the next start.
   */
  async stop(waitMs = 5000): Promise<void> {
    this.run.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.renewTimer);
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    const drained = (async () => {
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    })();
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (this.pending.size > 0)
      this.run.log.warn(
        { inFlight: this.pending.size },
        'digest sends still in flight at shutdown; their slots stay claimed and are re-sent with the same key at start-up',
      );
  }

  /** Sends still in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Work that `inFlight` and `stop()` wait for; its failure is logged, never thrown. */
  private track(p: Promise<void>): void {
    const t = p.catch((err: unknown) => this.health.failed(err, 'using the digest store')).finally(() => this.pending.delete(t));
    this.pending.add(t);
  }

  /** After a failed pass (the store was unreachable): plan again in a few seconds. */
  private retryLater(): void {
    this.timer = setTimeout(() => this.wake(), 5000);
    this.timer.unref?.();
  }

  private async planPass(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY; // a slot planned after a delivery during this pass sets it
    const now = this.run.now();
    let nextAt = now + 60_000;
    try {
      this.health.checkFile();
      await this.health.flushUnrecorded();
      const subs = await this.opts.store.listEnabled((id, reason) =>
        this.run.log.error({ subscription: id, reason }, 'digest subscription disabled: its stored row cannot be read'),
      );
      const plan = this.planner.sort(subs, now);
      this.delivery.forgetAllBut(plan.seen);
      nextAt = Math.min(nextAt, plan.nextAt);
      await this.prune(now);
      this.health.works();
      await this.runInChunks(plan.due);
    } catch (err) {
      this.health.failed(err, 'planning digests');
    }
    nextAt = Math.min(nextAt, this.health.retryAt(now));
    // Wake at the earliest slot (at least once a minute, so clock jumps are noticed).
    this.setTimer(Math.min(nextAt, this.timerAt));
  }

  private async prune(now: number): Promise<void> {
    if (now - this.prunedAt <= PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    const n = await this.opts.store.prune(now - KEEP_DELIVERIES_MS);
    if (n > 0) this.run.log.info({ deleted: n }, 'pruned old delivery records');
  }

  private setTimer(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.wake(), Math.max(0, at - this.run.now()) + 5);
    this.timer.unref?.();
  }

  /** After a slot is done: plans the subscription's next slot, which may come before the next planned wake (sub-minute schedules). */
  private async planNext(id: string): Promise<void> {
    if (this.run.stopped) return;
    try {
      const sub = this.planner.readable(await this.opts.store.get(id));
      const at = sub?.enabled ? this.planner.next(sub) : undefined;
      if (at != null && at < this.timerAt) this.setTimer(at);
    } catch (err) {
      this.health.failed(err, 'planning digests');
    }
  }

  private async runInChunks(subs: Subscription[]): Promise<void> {
    // Shared store: every replica starts at its own place in the list, so their claim batches rarely overlap.
    if (this.opts.store.shared && subs.length > 1) {
      const at = Math.floor(Math.random() * subs.length);
      subs = [...subs.slice(at), ...subs.slice(0, at)];
    }
    try {
      for (let from = 0; from < subs.length && !this.run.stopped; from += 100) {
        if (from > 0) await new Promise((resolve) => setImmediate(resolve));
        const end = Math.min(subs.length, from + 100);
        for (let i = from; i < end && !this.run.stopped; i++) await this.runDue(subs[i]!);
      }
    } catch (err) {
      // Nothing was claimed for the failed one; the next pass (after the storage retry wait) tries again.
      this.health.failed(err, 'claiming digest slots');
    }
  }

  private async runDue(sub: Subscription): Promise<void> {
    if (this.run.running.has(sub.id) || this.health.waitsToRecord(sub.id)) return;
    const slot = this.planner.dueSlot(sub);
    if (slot === undefined || (await this.recovery.skipMissed(sub, slot))) return;
    await this.delivery.claim(sub, slot);
  }
}
