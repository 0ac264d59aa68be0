import { mkdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Claim, DigestStore, Subscription } from '../digest/store.js';
import { StartupError } from '../startup-error.js';
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

/** The digest database cannot be opened or used as it is (start-up: exit 2 with this message). */
export class StoreError extends StartupError {
  override name = 'StoreError';
}

/** An SQLite failure in one line: its code, its message, and what to do when the file is not a usable database. */
function sqliteCause(err: unknown): string {
  const code = (err as { code?: string }).code;
  const hint = code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' ? ': move it away (the bot then starts with no subscriptions) or restore a backup' : '';
  return `${code ? `${code}: ` : ''}${(err as Error).message}${hint}`;
}

/** Versioned migrations; `PRAGMA user_version` records how many ran. */
const MIGRATIONS: string[] = [
  `CREATE TABLE subscriptions (
     id TEXT PRIMARY KEY,
     platform TEXT NOT NULL,
     channel_id TEXT NOT NULL,
     topics TEXT NOT NULL,
     all_topics INTEGER NOT NULL,
     schedule TEXT NOT NULL,
     timezone TEXT NOT NULL,
     mode TEXT NOT NULL CHECK (mode IN ('rotate', 'board')),
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     position INTEGER NOT NULL DEFAULT 0,
     last_slot INTEGER,
     last_hashes TEXT NOT NULL DEFAULT '{}',
     enabled INTEGER NOT NULL DEFAULT 1,
     disabled_reason TEXT
   );
   CREATE INDEX subscriptions_channel ON subscriptions (platform, channel_id);
   CREATE TABLE deliveries (
     subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
     slot INTEGER NOT NULL,
     key TEXT NOT NULL,
     position INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('claimed', 'delivered', 'skipped', 'failed')),
     claimed_at INTEGER NOT NULL,
     finished_at INTEGER,
     PRIMARY KEY (subscription_id, slot)
   );
   CREATE INDEX deliveries_unfinished ON deliveries (state) WHERE state = 'claimed';`,
  // 2: finished deliveries are pruned by age.
  `CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE state <> 'claimed';`,
  // 3: leases in the file, so two processes started on one DATA_DIR never both hold a role (src/lease.ts DataDirLock).
  `CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);`,
  // 4: small state by key that outlives a restart (the Discord channels seen on the gateway, read back after one).
  `CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/** Columns this version reads and writes, by table. */
const COLUMNS: Record<string, string[]> = {
  subscriptions: [...SUBSCRIPTION_COLUMNS],
  deliveries: ['subscription_id', 'slot', 'key', 'position', 'state', 'claimed_at', 'finished_at'],
};

const INSERT_SUBSCRIPTION = `INSERT INTO subscriptions (${SUBSCRIPTION_COLUMNS.join(', ')}) VALUES (${SUBSCRIPTION_COLUMNS.map(() => '?').join(', ')})`;

function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** The digest store in a SQLite file (WAL mode), migrated at open. */
export class SqliteDigestStore implements DigestStore {
  readonly shared = false;
  private db: Database.Database;
  private readonly now: () => number;

  private readonly file: string;
  /** Identity of the file opened, to notice it being deleted or replaced under us. */
  private identity?: { dev: number; ino: number };
  private lost?: string;

  /** Opens (creating and migrating as needed) the database; throws {@link StoreError} naming DATA_DIR and the cause when it cannot. */
  constructor(file: string, now: () => number = Date.now) {
    this.file = file;
    this.now = now;
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      this.db = openDatabase(file);
    } catch (err) {
      throw new StoreError(`DATA_DIR (${dirname(file)}): cannot open the digest database ${basename(file)}: ${sqliteCause(err)}`);
    }
    try {
      this.migrate();
      this.checkShape();
    } catch (err) {
      this.db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(`DATA_DIR (${dirname(file)}): cannot prepare the digest database ${basename(file)}: ${sqliteCause(err)}`);
    }
    this.identity = this.stat();
  }

  /** The schema version after migrations. */
  get version(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    // One write transaction: a second process opening the file at the same time waits, then finds it migrated.
    this.db
      .transaction(() => {
        const current = this.version;
        if (current > MIGRATIONS.length) {
          throw new StoreError(
            `DATA_DIR (${dirname(this.file)}): the digest database ${basename(this.file)} has schema version ${current}, newer than this bot knows (${MIGRATIONS.length}); it was written by a newer version of the bot. Run that version, or restore a backup.`,
          );
        }
        for (let v = current; v < MIGRATIONS.length; v++) {
          this.db.exec(MIGRATIONS[v]!);
          this.db.pragma(`user_version = ${v + 1}`);
        }
      })
      .immediate();
  }

  /** Refuses a database whose tables lack columns this version reads (changed by hand or by another program). */
  private checkShape(): void {
    for (const [table, wanted] of Object.entries(COLUMNS)) {
      const have = new Set((this.db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
      const missing = wanted.filter((c) => !have.has(c));
      if (missing.length > 0) {
        throw new StoreError(
          `DATA_DIR (${dirname(this.file)}): the digest database ${basename(this.file)} does not have the expected shape: table ${table} lacks ${missing.join(', ')}. Restore a backup or move the file away.`,
        );
      }
    }
  }

  private stat(): { dev: number; ino: number } | undefined {
    if (this.file === ':memory:') return undefined;
    try {
      const st = statSync(this.file);
      return { dev: st.dev, ino: st.ino };
    } catch {
      return undefined;
    }
  }

  health(): string | undefined {
    if (this.lost || !this.identity || !this.db.open) return this.lost;
    const now = this.stat();
    if (!now) this.lost = `${basename(this.file)} was deleted while the bot runs`;
    else if (now.dev !== this.identity.dev || now.ino !== this.identity.ino) this.lost = `${basename(this.file)} was replaced while the bot runs`;
    return this.lost;
  }

  /**
   * After {@link health} found the file deleted: writes the open database back to its path (SQLite's backup)
   * and reopens it there, so nothing confirmed is lost. A replaced file is left to the operator (restart).
   * Returns whether the store is healthy afterwards.
   */
  async recover(): Promise<boolean> {
    if (!this.lost) return true;
    if (this.stat()) return false; // something else is at the path now: not ours to overwrite
    const tmp = `${this.file}.restore-${process.pid}`;
    await this.db.backup(tmp);
    this.db.close();
    renameSync(tmp, this.file);
    this.db = openDatabase(this.file);
    this.identity = this.stat();
    this.lost = undefined;
    return true;
  }

  add(s: Subscription): void {
    this.db.prepare(INSERT_SUBSCRIPTION).run(subscriptionValues(s, Number));
  }

  get(id: string): Subscription | undefined {
    const r = this.db.prepare('SELECT * FROM subscriptions WHERE id = ?').get(id) as SubscriptionRow | undefined;
    return r && subscriptionFromRow(r);
  }

  listChannel(platform: string, channelId: string): Subscription[] {
    return (
      this.db.prepare('SELECT * FROM subscriptions WHERE platform = ? AND channel_id = ? ORDER BY created_at, id').all(platform, channelId) as SubscriptionRow[]
    ).map(subscriptionFromRow);
  }

  listEnabled(onBad?: (id: string, reason: string) => void): Subscription[] {
    const { subscriptions, unreadable } = subscriptionsFromRows(
      this.db.prepare('SELECT * FROM subscriptions WHERE enabled = 1 ORDER BY created_at, id').all() as SubscriptionRow[],
    );
    for (const { id, reason } of unreadable) {
      this.disable(id, reason);
      onBad?.(id, reason);
    }
    return subscriptions;
  }

  remove(id: string, platform: string, channelId: string): boolean {
    return this.db.prepare('DELETE FROM subscriptions WHERE id = ? AND platform = ? AND channel_id = ?').run(id, platform, channelId).changes === 1;
  }

  claim(id: string, slot: number, key: string): Claim | undefined {
    return this.db
      .transaction((): Claim | undefined => {
        const existing = this.db.prepare('SELECT * FROM deliveries WHERE subscription_id = ? AND slot = ?').get(id, slot) as
          | (ClaimRow & { state: Claim['state'] })
          | undefined;
        if (existing) return existing.state === 'claimed' ? resumedClaim(existing) : undefined;
        const sub = this.db.prepare('SELECT position, enabled FROM subscriptions WHERE id = ?').get(id) as { position: number; enabled: number } | undefined;
        if (sub?.enabled !== 1) return undefined;
        const claimedAt = this.now();
        this.db
          .prepare("INSERT INTO deliveries (subscription_id, slot, key, position, state, claimed_at) VALUES (?, ?, ?, ?, 'claimed', ?)")
          .run(id, slot, key, sub.position, claimedAt);
        return newClaim(id, slot, key, sub.position, claimedAt);
      })
      .immediate();
  }

  finish(claim: Claim, state: 'delivered' | 'failed', hashes: Record<string, string>): void {
    this.db
      .transaction(() => {
        this.db
          .prepare('UPDATE deliveries SET state = ?, finished_at = ? WHERE subscription_id = ? AND slot = ?')
          .run(state, this.now(), claim.subscriptionId, claim.slot);
        const advance = state === 'delivered' ? 1 : 0;
        this.db
          .prepare(
            `UPDATE subscriptions SET position = ? + ?, last_slot = MAX(COALESCE(last_slot, 0), ?),
             last_hashes = CASE WHEN ? THEN ? ELSE last_hashes END WHERE id = ?`,
          )
          .run(claim.position, advance, claim.slot, advance, JSON.stringify(hashes), claim.subscriptionId);
      })
      .immediate();
  }

  skip(id: string, slot: number): void {
    this.db
      .transaction(() => {
        this.db
          .prepare(
            "INSERT OR IGNORE INTO deliveries (subscription_id, slot, key, position, state, claimed_at, finished_at) SELECT id, ?, '', position, 'skipped', ?, ? FROM subscriptions WHERE id = ?",
          )
          .run(slot, this.now(), this.now(), id);
        this.db.prepare('UPDATE subscriptions SET last_slot = MAX(COALESCE(last_slot, 0), ?) WHERE id = ?').run(slot, id);
      })
      .immediate();
  }

  unfinished(): Claim[] {
    return (
      this.db
        .prepare("SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.state = 'claimed' AND s.enabled = 1 ORDER BY d.slot")
        .all() as ClaimRow[]
    ).map(resumedClaim);
  }

  disable(id: string, reason: string): void {
    this.db.prepare('UPDATE subscriptions SET enabled = 0, disabled_reason = ? WHERE id = ?').run(reason, id);
  }

  prune(before: number): number {
    return this.db.prepare("DELETE FROM deliveries WHERE state <> 'claimed' AND finished_at < ?").run(before).changes;
  }

  renewClaims(): number {
    return 0;
  }

  // Leases live in the file: processes on one machine share its clock.

  acquireLease(name: string, holder: string, ttlMs: number): boolean {
    const now = Date.now();
    return (
      this.db
        .prepare(
          `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder OR leases.expires_at < ?`,
        )
        .run(name, holder, now + ttlMs, now).changes === 1
    );
  }

  releaseLease(name: string, holder: string): void {
    this.db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }

  countLeases(prefix: string): number {
    return (
      this.db.prepare('SELECT COUNT(*) AS n FROM leases WHERE substr(name, 1, length(?)) = ? AND expires_at >= ?').get(prefix, prefix, Date.now()) as {
        n: number;
      }
    ).n;
  }

  leaseHolder(name: string): string | undefined {
    return (this.db.prepare('SELECT holder FROM leases WHERE name = ? AND expires_at >= ?').get(name, Date.now()) as { holder: string } | undefined)?.holder;
  }

  // Small state (the Matrix sync token stays in DATA_DIR/matrix-sync.json in this mode, beside the crypto store).
  getState(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setState(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM state WHERE key = ?').run(key);
    else this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
