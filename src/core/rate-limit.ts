/** What the limiter decided for one message. */
export type RateDecision = 'allow' | 'warn' | 'drop';

/** Decides per user whether a message may be answered: in memory ({@link RateLimiter}) or shared by replicas. */
export interface Limiter {
  take(user: string): RateDecision | Promise<RateDecision>;
}

interface Bucket {
  tokens: number;
  updated: number;
  warned: boolean;
}

/**
 * Per-user token bucket: `burst` messages at once, refilled at `perMinute`.
 * When a user runs dry they get one "slow down" ("warn"), then silence
 * ("drop") until a token is back. Synchronous and allocation-light because it
 * sits on every message's path.
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillPerMs: number;

  constructor(
    private readonly burst: number,
    perMinute: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxUsers = 50_000,
  ) {
    this.refillPerMs = perMinute / 60_000;
  }

  /** How many users' buckets are kept (at most `maxUsers`). */
  get trackedUsers(): number {
    return this.buckets.size;
  }

  take(user: string): RateDecision {
    const now = this.now();
    let b = this.buckets.get(user);
    if (!b) {
      if (this.buckets.size >= this.maxUsers) this.evictFull(now);
      b = { tokens: this.burst, updated: now, warned: false };
      this.buckets.set(user, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.updated) * this.refillPerMs);
      b.updated = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.warned = false;
      return 'allow';
    }
    if (b.warned) return 'drop';
    b.warned = true;
    return 'warn';
  }

  /** Forgets users whose bucket has refilled (they are indistinguishable from new ones). */
  private evictFull(now: number): void {
    for (const [user, b] of this.buckets) {
      if (b.tokens + (now - b.updated) * this.refillPerMs >= this.burst) this.buckets.delete(user);
    }
    if (this.buckets.size >= this.maxUsers) this.buckets.clear();
  }
}
