import pg from 'pg';
import type { Logger } from 'pino';
import type { Limiter } from '../core/rate-limit.js';
import type { Claim, DigestStore, SlotRequest, Subscription } from '../digest/store.js';
import { PgRateLimiter } from './pg-rate-limit.js';
import {
  type ClaimRow,
  newClaim,
  resumedClaim,
  SUBSCRIPTION_COLUMNS,
  type SubscriptionRow,
  subscriptionFromRow,
  subscriptionsFromRows,
  subscriptionValues,
} from './rows.js';

/** The database clock in ms: leases are compared against one clock, whatever the replicas' clocks say. */
const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** Versioned migrations; the table `schema_migrations` records which ran. Applied under an advisory lock, so replicas starting together migrate once. */
export const PG_MIGRATIONS: string[] = [
  `CREATE TABLE subscriptions (
     id TEXT PRIMARY KEY,
     platform TEXT NOT NULL,
     channel_id TEXT NOT NULL,
     topics TEXT NOT NULL,
     all_topics BOOLEAN NOT NULL,
     schedule TEXT NOT NULL,
     timezone TEXT NOT NULL,
     mode TEXT NOT NULL CHECK (mode IN ('rotate', 'board')),
     created_by TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     position INTEGER NOT NULL DEFAULT 0,
     last_slot BIGINT,
     last_hashes TEXT NOT NULL DEFAULT '{}',
     enabled BOOLEAN NOT NULL DEFAULT TRUE,
     disabled_reason TEXT
   );
   CREATE INDEX subscriptions_channel ON subscriptions (platform, channel_id);
   CREATE TABLE deliveries (
     subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
     slot BIGINT NOT NULL,
     key TEXT NOT NULL,
     position INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('claimed', 'delivered', 'skipped', 'failed')),
     claimed_at BIGINT NOT NULL,
     finished_at BIGINT,
     holder TEXT,
     claimed_until BIGINT,
     PRIMARY KEY (subscription_id, slot)
   );
   CREATE INDEX deliveries_open ON deliveries (claimed_until) WHERE state = 'claimed';
   CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE state <> 'claimed';
   CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);
   CREATE TABLE bot_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // Per-user rate limit buckets shared by the replicas (src/store/pg-rate-limit.ts).
  `CREATE TABLE rate_buckets (user_key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, updated BIGINT NOT NULL, warned BOOLEAN NOT NULL, decision TEXT NOT NULL);`,
  // Chat messages answered (or being answered) by some replica, so a message is answered once (src/adapters/discord/missed.ts).
  `CREATE TABLE handled_messages (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);`,
];

/** Any key: the advisory lock that serialises migrations. */
const MIGRATION_LOCK = 0x6b626f74;

/** `INSERT` of a whole subscriptions row, values as {@link subscriptionValues} gives them. */
export const INSERT_SUBSCRIPTION = `INSERT INTO subscriptions (${SUBSCRIPTION_COLUMNS.join(', ')}) VALUES (${SUBSCRIPTION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

/** Runs `work` in one transaction on one pooled connection: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const result = await work(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** BIGINT columns hold ms timestamps (well within 2^53): read them as numbers. */
const types = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

export interface PgStoreOptions {
  url: string;
  /** This process's name in claims and leases. */
  holder: string;
  /** How long a claim is held without renewal before another replica may take it over. */
  claimLeaseMs: number;
  now?: () => number;
  /** Connections in the pool (default 5). */
  poolSize?: number;
}

/**
 * The store on PostgreSQL, shared by every replica (`DATABASE_URL`). A slot is claimed with
 * `INSERT … ON CONFLICT DO NOTHING`, so exactly one replica gets it; the claim carries `claimed_until` and is
 * renewed while its holder lives; an expired claim is taken over with `FOR UPDATE SKIP LOCKED`.
 */
export class PgDigestStore implements DigestStore {
  readonly shared = true;
  readonly pool: pg.Pool;
  private readonly now: () => number;

  private constructor(private readonly opts: PgStoreOptions) {
    this.pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 5, types });
    // An idle connection that the server drops must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
    this.now = opts.now ?? Date.now;
  }

  /** Connects and migrates (an empty database is enough). */
  static async open(opts: PgStoreOptions): Promise<PgDigestStore> {
    const store = new PgDigestStore(opts);
    try {
      await store.migrate();
    } catch (err) {
      await store.pool.end();
      throw err;
    }
    return store;
  }

  /** Migrations applied. */
  async version(): Promise<number> {
    const r = await this.pool.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations');
    return r.rows[0]!.v;
  }

  private async migrate(): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const done = (await c.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations')).rows[0]!.v;
      if (done > PG_MIGRATIONS.length)
        throw new Error(`the database schema is at version ${done}, newer than this bot knows (${PG_MIGRATIONS.length}): run the newer bot version`);
      for (let v = done; v < PG_MIGRATIONS.length; v++) {
        await c.query(PG_MIGRATIONS[v]!);
        await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
      }
    });
  }

  async add(s: Subscription): Promise<void> {
    await this.pool.query(INSERT_SUBSCRIPTION, subscriptionValues(s, Boolean));
  }

  async get(id: string): Promise<Subscription | undefined> {
    const r = await this.pool.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE id = $1', [id]);
    return r.rows[0] && subscriptionFromRow(r.rows[0]);
  }

  async listChannel(platform: string, channelId: string): Promise<Subscription[]> {
    return (
      await this.pool.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE platform = $1 AND channel_id = $2 ORDER BY created_at, id', [
        platform,
        channelId,
      ])
    ).rows.map(subscriptionFromRow);
  }

  async listEnabled(onBad?: (id: string, reason: string) => void): Promise<Subscription[]> {
    const { subscriptions, unreadable } = subscriptionsFromRows(
      (await this.pool.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE enabled ORDER BY created_at, id')).rows,
    );
    for (const { id, reason } of unreadable) {
      await this.disable(id, reason);
      onBad?.(id, reason);
    }
    return subscriptions;
  }

  async remove(id: string, platform: string, channelId: string): Promise<boolean> {
    return (await this.pool.query('DELETE FROM subscriptions WHERE id = $1 AND platform = $2 AND channel_id = $3', [id, platform, channelId])).rowCount === 1;
  }

  async claim(id: string, slot: number, key: string): Promise<Claim | undefined> {
    const claimedAt = this.now();
    const r = await this.pool.query<{ position: number }>(
      `INSERT INTO deliveries (subscription_id, slot, key, position, state, claimed_at, holder, claimed_until)
       SELECT id, $2, $3, position, 'claimed', $4, $5, ${NOW} + $6 FROM subscriptions WHERE id = $1 AND enabled
       ON CONFLICT DO NOTHING RETURNING position`,
      [id, slot, key, claimedAt, this.opts.holder, this.opts.claimLeaseMs],
    );
    const row = r.rows[0];
    return row && newClaim(id, slot, key, row.position, claimedAt);
  }

  /** One INSERT for the batch; rows in key order, so two replicas claiming overlapping batches never deadlock. */
  async claimMany(slots: readonly SlotRequest[]): Promise<Claim[]> {
    if (slots.length === 0) return [];
    const claimedAt = this.now();
    const r = await this.pool.query<{ subscription_id: string; slot: number; key: string; position: number }>(
      `INSERT INTO deliveries (subscription_id, slot, key, position, state, claimed_at, holder, claimed_until)
       SELECT s.id, i.slot, i.key, s.position, 'claimed', $4, $5, ${NOW} + $6
       FROM unnest($1::text[], $2::bigint[], $3::text[]) AS i (id, slot, key) JOIN subscriptions s ON s.id = i.id AND s.enabled
       ORDER BY s.id, i.slot
       ON CONFLICT DO NOTHING RETURNING subscription_id, slot, key, position`,
      [slots.map((s) => s.id), slots.map((s) => s.slot), slots.map((s) => s.key), claimedAt, this.opts.holder, this.opts.claimLeaseMs],
    );
    return r.rows.map((row) => newClaim(row.subscription_id, row.slot, row.key, row.position, claimedAt));
  }

  async finish(claim: Claim, state: 'delivered' | 'failed', hashes: Record<string, string>): Promise<void> {
    const advance = state === 'delivered';
    // One statement, so one transaction: the delivery record and the subscription move together.
    await this.pool.query(
      `WITH d AS (UPDATE deliveries SET state = $1, finished_at = $2, claimed_until = NULL WHERE subscription_id = $3 AND slot = $4 AND state = 'claimed')
       UPDATE subscriptions SET position = $5 + $6::int, last_slot = GREATEST(COALESCE(last_slot, 0), $4),
         last_hashes = CASE WHEN $7 THEN $8 ELSE last_hashes END WHERE id = $3`,
      [state, this.now(), claim.subscriptionId, claim.slot, claim.position, advance ? 1 : 0, advance, JSON.stringify(hashes)],
    );
  }

  async skip(id: string, slot: number): Promise<void> {
    await this.pool.query(
      `WITH s AS (UPDATE subscriptions SET last_slot = GREATEST(COALESCE(last_slot, 0), $2) WHERE id = $1 RETURNING id, position)
       INSERT INTO deliveries (subscription_id, slot, key, position, state, claimed_at, finished_at)
       SELECT id, $2, '', position, 'skipped', $3, $3 FROM s ON CONFLICT DO NOTHING`,
      [id, slot, this.now()],
    );
  }

  /** Takes over claims whose lease expired (their holder died or stalled), each by exactly one replica. */
  async unfinished(): Promise<Claim[]> {
    const r = await this.pool.query<ClaimRow>(
      `WITH expired AS (
         SELECT d.subscription_id, d.slot FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
         WHERE d.state = 'claimed' AND d.claimed_until < ${NOW} AND s.enabled
         ORDER BY d.slot LIMIT 1000 FOR UPDATE OF d SKIP LOCKED)
       UPDATE deliveries d SET holder = $1, claimed_until = ${NOW} + $2 FROM expired e
       WHERE d.subscription_id = e.subscription_id AND d.slot = e.slot
       RETURNING d.subscription_id, d.slot, d.key, d.position, d.claimed_at`,
      [this.opts.holder, this.opts.claimLeaseMs],
    );
    return r.rows.map(resumedClaim).sort((a, b) => a.slot - b.slot);
  }

  async renewClaims(): Promise<number> {
    const r = await this.pool.query(`UPDATE deliveries SET claimed_until = ${NOW} + $2 WHERE holder = $1 AND state = 'claimed'`, [
      this.opts.holder,
      this.opts.claimLeaseMs,
    ]);
    return r.rowCount ?? 0;
  }

  async disable(id: string, reason: string): Promise<void> {
    await this.pool.query('UPDATE subscriptions SET enabled = FALSE, disabled_reason = $2 WHERE id = $1', [id, reason]);
  }

  async prune(before: number): Promise<number> {
    return (await this.pool.query("DELETE FROM deliveries WHERE state <> 'claimed' AND finished_at < $1", [before])).rowCount ?? 0;
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, ${NOW} + $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < ${NOW}`,
      [name, holder, ttlMs],
    );
    return r.rowCount === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async countLeases(prefix: string): Promise<number> {
    const r = await this.pool.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM leases WHERE starts_with(name, $1) AND expires_at >= ${NOW}`, [prefix]);
    return r.rows[0]!.n;
  }

  private handledPrunedAt = 0;

  async markHandled(id: string, ttlMs: number): Promise<boolean> {
    if (this.now() - this.handledPrunedAt > 10 * 60_000) {
      this.handledPrunedAt = this.now();
      this.pool.query(`DELETE FROM handled_messages WHERE expires_at < ${NOW}`).catch(() => undefined);
    }
    const r = await this.pool.query(
      `INSERT INTO handled_messages (id, expires_at) VALUES ($1, ${NOW} + $2)
       ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE handled_messages.expires_at < ${NOW}`,
      [id, ttlMs],
    );
    return r.rowCount === 1;
  }

  rateLimiter(burst: number, perMinute: number, log?: Logger): Limiter {
    return new PgRateLimiter(this.pool, burst, perMinute, log);
  }

  async getState(key: string): Promise<string | undefined> {
    return (await this.pool.query<{ value: string }>('SELECT value FROM bot_state WHERE key = $1', [key])).rows[0]?.value;
  }

  async setState(key: string, value: string | null): Promise<void> {
    if (value === null) await this.pool.query('DELETE FROM bot_state WHERE key = $1', [key]);
    else await this.pool.query('INSERT INTO bot_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
