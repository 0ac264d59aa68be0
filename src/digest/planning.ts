import { nextSlots, previousSlot } from './schedule.js';
import type { SchedulerRun } from './scheduler-options.js';
import type { Subscription } from './store.js';

/** The subscriptions of one planning pass: those due now, which were seen, and the earliest slot still to come. */
export interface PassPlan {
  due: Subscription[];
  /** Subscriptions that are plannable (a disabled one is left out). */
  seen: Set<string>;
  /** The earliest future slot; infinity when there is none. */
  nextAt: number;
}

/**
 * Which slots are due, per subscription. Cheap for the many subscriptions that are not due: each one's next
 * slot is computed once per last slot and cached. A stored schedule that no longer parses (a row from another
 * version) disables that subscription with a log line.
 */
export class SlotPlanner {
  /** Next slot per subscription, keyed by what it was computed from. */
  private readonly plan = new Map<string, { key: string; at: number | undefined }>();

  constructor(private readonly run: SchedulerRun) {}

  /** Sorts the enabled subscriptions at `now`: due (and not already running), or when they are next due. */
  sort(subs: readonly Subscription[], now: number): PassPlan {
    const due: Subscription[] = [];
    const seen = new Set<string>();
    let nextAt = Number.POSITIVE_INFINITY;
    for (const sub of subs) {
      const at = this.next(sub);
      if (at === null) continue;
      seen.add(sub.id);
      if (at === undefined) continue;
      if (at <= now) {
        if (!this.run.running.has(sub.id)) due.push(sub);
      } else nextAt = Math.min(nextAt, at);
    }
    for (const id of this.plan.keys()) if (!seen.has(id)) this.plan.delete(id);
    return { due, seen, nextAt };
  }

  /** The slot to post now: the latest one that has passed, if it comes after the subscription's last (or its creation). */
  dueSlot(sub: Subscription): number | undefined {
    const slot = previousSlot(sub.schedule, sub.timezone, new Date(this.run.now()))?.getTime();
    if (slot === undefined || slot <= (sub.lastSlot ?? sub.createdAt)) return undefined;
    return slot;
  }

  /** The next slot, undefined when there is none, or null for a subscription just disabled because its schedule no longer parses. */
  next(sub: Subscription): number | undefined | null {
    try {
      return this.nextSlotOf(sub);
    } catch (err) {
      if (err instanceof BadSubscription) return null;
      throw err;
    }
  }

  /** The subscription, or undefined (disabled with a log line) when its schedule no longer parses. */
  readable(sub: Subscription | undefined): Subscription | undefined {
    if (!sub) return undefined;
    return this.next(sub) === null ? undefined : sub;
  }

  /** The first slot after the subscription's last one (or its creation), cached until that changes. */
  private nextSlotOf(sub: Subscription): number | undefined {
    const key = `${sub.schedule}\u0000${sub.timezone}\u0000${sub.lastSlot ?? sub.createdAt}`;
    const cached = this.plan.get(sub.id);
    if (cached?.key === key) return cached.at;
    let at: number | undefined;
    try {
      at = nextSlots(sub.schedule, sub.timezone, new Date(sub.lastSlot ?? sub.createdAt), 1)[0]?.getTime();
    } catch (err) {
      const reason = `schedule "${sub.schedule}" (${sub.timezone}) no longer parses: ${(err as Error).message}`;
      this.disableQuietly(sub.id, reason);
      this.run.log.error({ subscription: sub.id, reason }, 'digest subscription disabled: its stored schedule cannot be used');
      this.plan.delete(sub.id);
      throw new BadSubscription(reason);
    }
    this.plan.set(sub.id, { key, at });
    return at;
  }

  /** Disables a subscription without waiting for an asynchronous store; a failed write is a storage error (planning retries it). */
  private disableQuietly(id: string, reason: string): void {
    try {
      const done = this.run.opts.store.disable(id, reason);
      if (done instanceof Promise) done.catch((err: unknown) => this.run.storageFailed(err, 'disabling a digest subscription'));
    } catch (err) {
      this.run.storageFailed(err, 'disabling a digest subscription');
    }
  }
}

/** A stored subscription whose schedule no longer parses (already disabled). */
class BadSubscription extends Error {}
