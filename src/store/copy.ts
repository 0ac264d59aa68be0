import Database from 'better-sqlite3';
import { INSERT_SUBSCRIPTION, inTransaction, type PgDigestStore } from './pg-store.js';
import { SUBSCRIPTION_COLUMNS } from './rows.js';

export interface CopyResult {
  subscriptions: number;
  deliveries: number;
  /** Of the deliveries, claims left open (sent or not): the first replica to look re-sends them with their key. */
  openClaims: number;
}

/** Columns SQLite keeps as 0 and 1 and PostgreSQL as booleans. */
const FLAG_COLUMNS: ReadonlySet<string> = new Set(['all_topics', 'enabled']);

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
    return await inTransaction(store.pool, async (c) => {
      let nSubs = 0;
      for (const s of subs) {
        const values = SUBSCRIPTION_COLUMNS.map((column) => (FLAG_COLUMNS.has(column) ? s[column] === 1 : s[column]));
        const r = await c.query(`${INSERT_SUBSCRIPTION} ON CONFLICT (id) DO NOTHING`, values);
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
      return { subscriptions: nSubs, deliveries: nDel, openClaims: open };
    });
  } finally {
    db.close();
  }
}
