import type pg from 'pg';
import type { Logger } from 'pino';
import { type Limiter, type RateDecision, RateLimiter } from '../core/rate-limit.js';

/** The database clock in ms, as in the store: every replica refills buckets by one clock. */
const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
/** The bucket after refilling since its last update (`$2` burst, `$3` tokens per ms). */
const REFILLED = `LEAST($2::float8, b.tokens + (${NOW} - b.updated) * $3::float8)`;

/**
 * One UPSERT per message: refills the user's bucket, takes a token or records the warning, and returns the
 * decision. Same rules as {@link RateLimiter}: `burst` at once, refilled at `perMinute`, one warning, then silence.
 */
const TAKE = `INSERT INTO rate_buckets AS b (user_key, tokens, updated, warned, decision) VALUES ($1, $2::float8 - 1, ${NOW}, FALSE, 'allow')
  ON CONFLICT (user_key) DO UPDATE SET
    tokens = CASE WHEN ${REFILLED} >= 1 THEN ${REFILLED} - 1 ELSE ${REFILLED} END,
    decision = CASE WHEN ${REFILLED} >= 1 THEN 'allow' WHEN b.warned THEN 'drop' ELSE 'warn' END,
    warned = ${REFILLED} < 1,
    updated = ${NOW}
  RETURNING decision`;

/** Buckets that have refilled are indistinguishable from new users: deleted at most this often. */
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Per-user rate limit shared by every replica through PostgreSQL (table `rate_buckets`), so a user whose
 * messages and interactions land on several replicas gets one budget, not one per replica. While the
 * database cannot be reached, each replica falls back to its own in-memory limiter (answers go on).
 */
export class PgRateLimiter implements Limiter {
  private readonly local: RateLimiter;
  private readonly perMs: number;
  private prunedAt = Date.now();
  private warnedAt = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly burst: number,
    perMinute: number,
    private readonly log?: Logger,
  ) {
    this.local = new RateLimiter(burst, perMinute);
    this.perMs = perMinute / 60_000;
  }

  async take(user: string): Promise<RateDecision> {
    this.maybePrune();
    try {
      const r = await this.pool.query<{ decision: RateDecision }>(TAKE, [user, this.burst, this.perMs]);
      return r.rows[0]!.decision;
    } catch (err) {
      if (Date.now() - this.warnedAt > 60_000) {
        this.warnedAt = Date.now();
        this.log?.warn({ err }, 'shared rate limit unavailable; this replica limits users on its own until the database answers');
      }
      return this.local.take(user);
    }
  }

  private maybePrune(): void {
    if (Date.now() - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = Date.now();
    this.pool
      .query(`DELETE FROM rate_buckets b WHERE b.tokens + (${NOW} - b.updated) * $2::float8 >= $1::float8`, [this.burst, this.perMs])
      .catch(() => undefined);
  }
}
