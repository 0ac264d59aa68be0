import pLimit from 'p-limit';
import pThrottle from 'p-throttle';
import type { Pace } from './scheduler-options.js';
import type { Subscription } from './store.js';

/** Runs a send attempt within a platform's per-second budget (when it has one). */
export type Paced = <T>(f: () => Promise<T>) => Promise<T>;

/** One platform's lane: its sends in flight, its pace, and (shared store) its slots waiting to be claimed. */
export interface Lane {
  limit: ReturnType<typeof pLimit>;
  paced: Paced;
  /** Shared store: due slots waiting to be claimed, claims taken and not yet finished, a claim batch in flight. */
  queue: { sub: Subscription; slot: number }[];
  open: number;
  claiming: boolean;
  /** How many slots to hold claimed at once: about one second of sends at this replica's share, at least two rounds of the concurrency. */
  batch: () => number;
}

/**
 * A lane at `pace`. With a per-second budget, `paceShare` (the live replica count) divides it; one throttle
 * is kept per share, so a change in the replica count switches to another. `signal` ends throttled waits.
 */
export function createLane(pace: Pace, signal: AbortSignal, paceShare?: () => number): Lane {
  const perSecond = pace.perSecond;
  const throttles = new Map<number, Paced>();
  const throttled = (limit: number): Paced => {
    let t = throttles.get(limit);
    if (!t) {
      const wrapped = pThrottle({ limit, interval: 1000, strict: true, signal })(<T>(f: () => Promise<T>) => f());
      t = <T>(f: () => Promise<T>) => wrapped(f) as Promise<T>;
      throttles.set(limit, t);
    }
    return t;
  };
  const share = () => Math.max(1, Math.floor(perSecond! / Math.max(1, paceShare?.() ?? 1)));
  return {
    limit: pLimit(pace.concurrency),
    paced: perSecond ? (f) => throttled(share())(f) : (f) => f(),
    queue: [],
    open: 0,
    claiming: false,
    batch: () => Math.max(2 * pace.concurrency, perSecond ? share() : 0),
  };
}
