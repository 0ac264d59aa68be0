import Database from 'better-sqlite3';
import type { PgDigestStore } from './pg-store.js';

export interface CopyResult {
  subscriptions: number;
  deliveries: number;
  /** Of the deliveries, claims left open (sent or not): the first replica to look re-sends them with their key. */
  openClaims: number;
}

/**
 * Copies subscriptions and delivery state from a SQLite digest file into PostgreSQL in one transaction. Rows
 * already there are kept (a second run copies nothing twice). An open claim arrives expired, so a replica takes
 * it over and re-sends it with the same idempotency key, as the single process would have at its next start.
 */
export async function copySqliteToPg(file: string, store: PgDigestStore): Promise<CopyResult> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const subs = db.prepare('SELECT * FROM subscriptions').all() as Record<string, unknown>[];
    const deliveries = db.prepare('SELECT * FROM deliveries').all() as Record<string, unknown>[];
    const c = await store.pool.connect();
    try {
      await c.query('BEGIN');
      let nSubs = 0;
      for (const s of subs) {
        const r = await c.query(
          `INSERT INTO subscriptions (id, platform, channel_id, topics, all_topics, schedule, timezone, mode, created_by, created_at, position, last_slot, last_hashes, enabled, disabled_reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING`,
          [s.id, s.platform, s.channel_id, s.topics, s.all_topics === 1, s.schedule, s.timezone, s.mode, s.created_by, s.created_at, s.position, s.last_slot, s.last_hashes, s.enabled === 1, s.disabled_reason],
        );
        nSubs += r.rowCount ?? 0;
      }
      let nDel = 0;
      let open = 0;
      for (const d of deliveries) {
        const r = await c.query(
          `INSERT INTO deliveries (subscription_id, slot, key, position, state, claimed_at, finished_at, holder, claimed_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, CASE WHEN $5 = 'claimed' THEN 0 END) ON CONFLICT DO NOTHING`,
          [d.subscription_id, d.slot, d.key, d.position, d.state, d.claimed_at, d.finished_at],
        );
        nDel += r.rowCount ?? 0;
        if (r.rowCount && d.state === 'claimed') open++;
      }
      await c.query('COMMIT');
      return { subscriptions: nSubs, deliveries: nDel, openClaims: open };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  } finally {
    db.close();
  }
}
