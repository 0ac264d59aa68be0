import { mkdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StartupError } from '../startup-error.js';

export type DigestMode = 'rotate' | 'board';

/** A digest subscription of one channel or room. */
export interface Subscription {
  id: string;
  platform: string;
  channelId: string;
  /** Topic ids in talk order; ignored when `allTopics` (then every topic, including new ones). */
  topics: string[];
  allTopics: boolean;
  /** Cron expression (presets are stored expanded). */
  schedule: string;
  timezone: string;
  mode: DigestMode;
  createdBy: string;
  createdAt: number;
  /** Rotation position: index of the next topic to post. */
  position: number;
  /** The last slot (ms since epoch) that was delivered or deliberately skipped. */
  lastSlot: number | null;
  /** Content hash of each topic as last posted, to mark what changed. */
  lastHashes: Record<string, string>;
  enabled: boolean;
  disabledReason: string | null;
}

/** A slot claimed for delivery: sent with `key`, so a re-send after a crash is dropped by the platform. */
export interface Claim {
  subscriptionId: string;
  slot: number;
  key: string;
  position: number;
  state: 'claimed' | 'delivered' | 'skipped' | 'failed';
  /** When the slot was claimed (ms since epoch): no send of it can be older. */
  claimedAt?: number;
  /** Claimed earlier (by a run that crashed or failed to record it): it may have been posted already. */
  resumed?: boolean;
}

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

/** A value, or a promise of it: SQLite answers synchronously, PostgreSQL asynchronously; callers await both. */
export type Awaitable<T> = T | Promise<T>;

/**
 * Storage of subscriptions, slot claims, leases and small shared state. Two implementations: SQLite (one
 * process, the default) and PostgreSQL (several replicas: `src/store/pg-store.ts`); the same contract tests
 * run against both (`test/unit/store-contract.test.ts`).
 */
export interface DigestStore {
  /** True when several processes share the store: claims carry a lease and expired ones are taken over. */
  readonly shared: boolean;
  add(s: Subscription): Awaitable<void>;
  get(id: string): Awaitable<Subscription | undefined>;
  listChannel(platform: string, channelId: string): Awaitable<Subscription[]>;
  /** Enabled subscriptions; a row that cannot be read is disabled and reported through `onBad` instead. */
  listEnabled(onBad?: (id: string, reason: string) => void): Awaitable<Subscription[]>;
  remove(id: string, platform: string, channelId: string): Awaitable<boolean>;
  /**
   * Claims (subscription, slot) unless it was already claimed; returns the claim or undefined if another
   * holds or finished it. A single-process store also returns its own unfinished claim (to re-send it).
   */
  claim(id: string, slot: number, key: string): Awaitable<Claim | undefined>;
  /** Marks a claimed slot delivered and advances the subscription (position, last slot, hashes) in one transaction. */
  finish(claim: Claim, state: 'delivered' | 'failed', hashes: Record<string, string>): Awaitable<void>;
  /** Records a slot skipped on purpose (too old to catch up). */
  skip(id: string, slot: number): Awaitable<void>;
  /** Claims this process should (re-)send now: left by a crash (SQLite), or whose lease expired, now taken over (shared). */
  unfinished(): Awaitable<Claim[]>;
  /** Extends the lease of every open claim this process holds; returns how many (0 when not shared). */
  renewClaims(): Awaitable<number>;
  disable(id: string, reason: string): Awaitable<void>;
  /**
   * Deletes finished delivery records older than `before` (ms since epoch); returns how many. Open claims
   * stay. Old records are not needed: a subscription's last slot already keeps older slots from re-running.
   */
  prune(before: number): Awaitable<number>;
  /**
   * Why the store cannot be trusted with writes now (its file was deleted or replaced), or undefined. Optional:
   * the PostgreSQL store leaves it out (a lost connection is reported by the failing query and retried by pg's
   * pool; there is no local file to lose).
   */
  health?(): string | undefined;
  /** Tries to make an unhealthy store healthy again; returns whether it is. Optional, like `health`. */
  recover?(): Promise<boolean>;
  /** Takes or renews the named lease for `holder` until `ttlMs` from now; true while `holder` has it. */
  acquireLease(name: string, holder: string, ttlMs: number): Awaitable<boolean>;
  /** Gives the lease up (only if `holder` has it), so another process may take it at once. */
  releaseLease(name: string, holder: string): Awaitable<void>;
  /** How many unexpired leases have names starting with `prefix` (live replicas: "replica:"). */
  countLeases(prefix: string): Awaitable<number>;
  /** Small shared state by key (the Matrix sync token). */
  getState(key: string): Awaitable<string | undefined>;
  setState(key: string, value: string | null): Awaitable<void>;
  close(): Awaitable<void>;
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
];

/** Columns this version reads and writes, by table. */
const COLUMNS: Record<string, string[]> = {
  subscriptions: ['id', 'platform', 'channel_id', 'topics', 'all_topics', 'schedule', 'timezone', 'mode', 'created_by', 'created_at', 'position', 'last_slot', 'last_hashes', 'enabled', 'disabled_reason'],
  deliveries: ['subscription_id', 'slot', 'key', 'position', 'state', 'claimed_at', 'finished_at'],
};

interface Row {
  id: string;
  platform: string;
  channel_id: string;
  topics: string;
  all_topics: number;
  schedule: string;
  timezone: string;
  mode: DigestMode;
  created_by: string;
  created_at: number;
  position: number;
  last_slot: number | null;
  last_hashes: string;
  enabled: number;
  disabled_reason: string | null;
}

function fromRow(r: Row): Subscription {
  if (r.mode !== 'rotate' && r.mode !== 'board') throw new Error(`unknown mode "${String(r.mode)}"`);
  return {
    id: r.id,
    platform: r.platform,
    channelId: r.channel_id,
    topics: JSON.parse(r.topics) as string[],
    allTopics: r.all_topics === 1,
    schedule: r.schedule,
    timezone: r.timezone,
    mode: r.mode,
    createdBy: r.created_by,
    createdAt: r.created_at,
    position: r.position,
    lastSlot: r.last_slot,
    lastHashes: JSON.parse(r.last_hashes) as Record<string, string>,
    enabled: r.enabled === 1,
    disabledReason: r.disabled_reason,
  };
}

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
    const current = this.version;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        `DATA_DIR (${dirname(this.file)}): the digest database ${basename(this.file)} has schema version ${current}, newer than this bot knows (${MIGRATIONS.length}); it was written by a newer version of the bot. Run that version, or restore a backup.`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Refuses a database whose tables lack columns this version reads (changed by hand or by another program). */
  private checkShape(): void {
    for (const [table, wanted] of Object.entries(COLUMNS)) {
      const have = new Set((this.db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
      const missing = wanted.filter((c) => !have.has(c));
      if (missing.length > 0) {
        throw new StoreError(`DATA_DIR (${dirname(this.file)}): the digest database ${basename(this.file)} does not have the expected shape: table ${table} lacks ${missing.join(', ')}. Restore a backup or move the file away.`);
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
    this.db
      .prepare(
        `INSERT INTO subscriptions (id, platform, channel_id, topics, all_topics, schedule, timezone, mode, created_by, created_at, position, last_slot, last_hashes, enabled, disabled_reason)
         VALUES (@id, @platform, @channelId, @topics, @allTopics, @schedule, @timezone, @mode, @createdBy, @createdAt, @position, @lastSlot, @lastHashes, @enabled, @disabledReason)`,
      )
      .run({ ...s, topics: JSON.stringify(s.topics), allTopics: s.allTopics ? 1 : 0, lastHashes: JSON.stringify(s.lastHashes), enabled: s.enabled ? 1 : 0 });
  }

  get(id: string): Subscription | undefined {
    const r = this.db.prepare('SELECT * FROM subscriptions WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  listChannel(platform: string, channelId: string): Subscription[] {
    return (this.db.prepare('SELECT * FROM subscriptions WHERE platform = ? AND channel_id = ? ORDER BY created_at, id').all(platform, channelId) as Row[]).map(fromRow);
  }

  listEnabled(onBad?: (id: string, reason: string) => void): Subscription[] {
    const out: Subscription[] = [];
    for (const r of this.db.prepare('SELECT * FROM subscriptions WHERE enabled = 1 ORDER BY created_at, id').all() as Row[]) {
      try {
        out.push(fromRow(r));
      } catch (err) {
        const reason = `stored subscription cannot be read: ${(err as Error).message}`;
        this.disable(r.id, reason);
        onBad?.(r.id, reason);
      }
    }
    return out;
  }

  remove(id: string, platform: string, channelId: string): boolean {
    return this.db.prepare('DELETE FROM subscriptions WHERE id = ? AND platform = ? AND channel_id = ?').run(id, platform, channelId).changes === 1;
  }

  claim(id: string, slot: number, key: string): Claim | undefined {
    return this.db.transaction((): Claim | undefined => {
      const existing = this.db.prepare('SELECT * FROM deliveries WHERE subscription_id = ? AND slot = ?').get(id, slot) as
        | { key: string; position: number; state: Claim['state']; claimed_at: number }
        | undefined;
      if (existing) return existing.state === 'claimed' ? { subscriptionId: id, slot, key: existing.key, position: existing.position, state: 'claimed', claimedAt: existing.claimed_at, resumed: true } : undefined;
      const sub = this.db.prepare('SELECT position, enabled FROM subscriptions WHERE id = ?').get(id) as { position: number; enabled: number } | undefined;
      if (sub?.enabled !== 1) return undefined;
      const claimedAt = this.now();
      this.db
        .prepare("INSERT INTO deliveries (subscription_id, slot, key, position, state, claimed_at) VALUES (?, ?, ?, ?, 'claimed', ?)")
        .run(id, slot, key, sub.position, claimedAt);
      return { subscriptionId: id, slot, key, position: sub.position, state: 'claimed', claimedAt };
    }).immediate();
  }

  finish(claim: Claim, state: 'delivered' | 'failed', hashes: Record<string, string>): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE deliveries SET state = ?, finished_at = ? WHERE subscription_id = ? AND slot = ?').run(state, this.now(), claim.subscriptionId, claim.slot);
      const advance = state === 'delivered' ? 1 : 0;
      this.db
        .prepare(
          `UPDATE subscriptions SET position = ? + ?, last_slot = MAX(COALESCE(last_slot, 0), ?),
             last_hashes = CASE WHEN ? THEN ? ELSE last_hashes END WHERE id = ?`,
        )
        .run(claim.position, advance, claim.slot, advance, JSON.stringify(hashes), claim.subscriptionId);
    }).immediate();
  }

  skip(id: string, slot: number): void {
    this.db.transaction(() => {
      this.db.prepare("INSERT OR IGNORE INTO deliveries (subscription_id, slot, key, position, state, claimed_at, finished_at) SELECT id, ?, '', position, 'skipped', ?, ? FROM subscriptions WHERE id = ?").run(slot, this.now(), this.now(), id);
      this.db.prepare('UPDATE subscriptions SET last_slot = MAX(COALESCE(last_slot, 0), ?) WHERE id = ?').run(slot, id);
    }).immediate();
  }

  unfinished(): Claim[] {
    return (this.db.prepare("SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.state = 'claimed' AND s.enabled = 1 ORDER BY d.slot").all() as {
      subscription_id: string;
      slot: number;
      key: string;
      position: number;
      claimed_at: number;
    }[]).map((r) => ({ subscriptionId: r.subscription_id, slot: r.slot, key: r.key, position: r.position, state: 'claimed' as const, claimedAt: r.claimed_at, resumed: true }));
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

  // One process uses a SQLite file, so leases and state need no table: they live in memory with the same
  // semantics (the Matrix sync token stays in DATA_DIR/matrix-sync.json in this mode).
  private readonly leases = new Map<string, { holder: string; expiresAt: number }>();
  private readonly state = new Map<string, string>();

  acquireLease(name: string, holder: string, ttlMs: number): boolean {
    const now = Date.now();
    const l = this.leases.get(name);
    if (l && l.holder !== holder && l.expiresAt >= now) return false;
    this.leases.set(name, { holder, expiresAt: now + ttlMs });
    return true;
  }

  releaseLease(name: string, holder: string): void {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }

  countLeases(prefix: string): number {
    const now = Date.now();
    let n = 0;
    for (const [name, l] of this.leases) if (name.startsWith(prefix) && l.expiresAt >= now) n++;
    return n;
  }

  getState(key: string): string | undefined {
    return this.state.get(key);
  }

  setState(key: string, value: string | null): void {
    if (value === null) this.state.delete(key);
    else this.state.set(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
