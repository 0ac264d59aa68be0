/**
 * Digest delivery under faults: a full disk (a real tmpfs filled up), a deleted database file, rows from
 * another version, sub-minute schedules, and re-sends past the platform's de-duplication window.
 */
import { existsSync, mkdtempSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/core/reply.js';
import { DeliveryError, type FindResult, type Poster } from '../../src/digest/port.js';
import { DigestScheduler, slotKey } from '../../src/digest/scheduler.js';
import { DigestService } from '../../src/digest/service.js';
import type { Subscription } from '../../src/digest/store.js';
import { SqliteDigestStore, StoreError } from '../../src/store/sqlite-store.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { captureLogger, msg } from '../support/bot.js';
import { mountTinyDisk, type FullDisk } from '../support/full-disk.js';
import { RecordingPoster } from '../support/recording-poster.js';

const HOUR = 3600_000;
const knowledge = new KnowledgeBase('knowledge');
const MON_0900 = Date.parse('2026-06-01T09:00:00Z');
const schedulers: DigestScheduler[] = [];
const disks: FullDisk[] = [];

function sub(id: string, extra: Partial<Subscription> = {}): Subscription {
  return {
    id,
    platform: 'test',
    channelId: `chan-${id}`,
    topics: ['filesystems'],
    allTopics: false,
    schedule: '0 9 * * *',
    timezone: 'UTC',
    mode: 'rotate',
    createdBy: 'u1',
    createdAt: MON_0900 - 10 * 24 * HOUR,
    position: 0,
    lastSlot: null,
    lastHashes: {},
    enabled: true,
    disabledReason: null,
    ...extra,
  };
}

function scheduler(store: SqliteDigestStore, poster: Poster, now: () => number, extra: Partial<ConstructorParameters<typeof DigestScheduler>[0]> = {}) {
  const log = captureLogger();
  const s = new DigestScheduler({
    store,
    knowledge,
    posters: new Map([['test', poster]]),
    logger: log.logger,
    catchUpGraceMs: HOUR,
    now,
    retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 },
    ...extra,
  });
  schedulers.push(s);
  return { s, lines: log.lines };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tmpFile() {
  return join(mkdtempSync(join(tmpdir(), 'ksb-rel-')), 'digests.sqlite');
}

afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop();
  for (const d of disks.splice(0)) d.unmount();
});

describe('digests on a full disk', () => {
  it('GIVEN the disk fills up before a slot THEN nothing throws, the error is reported, no slot is claimed half-way, and the slot is posted once space is back', async () => {
    const disk = mountTinyDisk();
    disks.push(disk);
    const store = new SqliteDigestStore(join(disk.dir, 'digests.sqlite'));
    store.add(sub('a'));
    let now = MON_0900 - 1000;
    const poster = new RecordingPoster();
    let storageErrors = 0;
    const { s, lines } = scheduler(store, poster, () => now, { storageRetryMs: 50, onStorageError: () => storageErrors++ });
    s.start();
    disk.fill();
    now = MON_0900 + 1000; // the slot is due while the disk is full
    s.wake();
    await until(() => storageErrors > 0, 'a storage error');
    expect(poster.attempts).toEqual([]); // nothing is sent without a claim on disk
    expect(s.problem()).toMatch(/storage error while claiming digest slots: .*(full|disk)/i);
    expect(lines.some((l) => l.level === 50 && /digest storage error/.test(String(l.msg)))).toBe(true);
    disk.free();
    await until(() => poster.posts.length === 1, 'the post after space came back');
    await until(() => store.unfinished().length === 0 && store.get('a')!.lastSlot === MON_0900, 'the slot recorded');
    expect(s.problem()).toBeUndefined();
    expect(poster.attempts).toEqual([slotKey('a', MON_0900)]);
  });

  it('GIVEN the disk fills up while a post is in flight THEN the outcome is kept and written later: posted once, claim finished, never re-sent', async () => {
    const disk = mountTinyDisk();
    disks.push(disk);
    const store = new SqliteDigestStore(join(disk.dir, 'digests.sqlite'));
    store.add(sub('a'));
    const now = MON_0900 + 1000;
    const posts: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const poster: Poster = {
      post: async (_c, _r, key) => {
        await gate;
        posts.push(key);
      },
    };
    const { s } = scheduler(store, poster, () => now, { storageRetryMs: 50 });
    s.start();
    await until(() => store.unfinished().length === 1, 'the claim');
    disk.fill();
    release();
    await until(() => s.problem() !== undefined, 'the storage error on finish');
    expect(store.unfinished()).toHaveLength(1); // the transaction rolled back: still claimed on disk
    s.wake();
    await new Promise((r) => setTimeout(r, 200));
    expect(posts).toHaveLength(1); // not re-sent while the outcome waits to be written
    disk.free();
    await until(() => store.unfinished().length === 0, 'the outcome written');
    expect(store.get('a')).toMatchObject({ lastSlot: MON_0900, position: 1 });
    expect(posts).toHaveLength(1);
  });

  it('GIVEN a subscribe while the disk is full THEN a clear refusal, not an exception', async () => {
    const disk = mountTinyDisk();
    disks.push(disk);
    const store = new SqliteDigestStore(join(disk.dir, 'digests.sqlite'));
    let reported = 0;
    const service = new DigestService(store, knowledge, { minIntervalSeconds: 3600, maxPerChannel: 10, onStorageError: () => reported++ });
    disk.fill();
    const reply = await service.subscribe(msg('/digest'), { topics: 'fs', schedule: 'daily', mode: 'rotate' });
    expect(reply).toMatchObject({ kind: 'usage', summary: expect.stringMatching(/cannot be stored right now/) });
    expect(reported).toBe(1);
    disk.free();
    expect((await service.subscribe(msg('/digest'), { topics: 'fs', schedule: 'daily', mode: 'rotate' })).title).toBe('Digest subscribed');
    store.close();
  });

  it('GIVEN start-up on a full disk THEN a StoreError naming DATA_DIR and the cause', () => {
    const disk = mountTinyDisk();
    disks.push(disk);
    disk.fill();
    expect(() => new SqliteDigestStore(join(disk.dir, 'digests.sqlite'))).toThrow(StoreError);
    expect(() => new SqliteDigestStore(join(disk.dir, 'digests.sqlite'))).toThrow(
      /^DATA_DIR \(.*\): cannot (open|prepare) the digest database digests\.sqlite: .*full/,
    );
  });
});

describe('the digest database deleted while the bot runs', () => {
  it('GIVEN the file is deleted THEN it is reported, new subscriptions are refused, and the file is restored with every subscription', async () => {
    const file = tmpFile();
    const store = new SqliteDigestStore(file);
    const service = new DigestService(store, knowledge, { minIntervalSeconds: 3600, maxPerChannel: 10 });
    expect((await service.subscribe(msg('/digest'), { topics: 'fs', schedule: 'daily', mode: 'rotate' })).title).toBe('Digest subscribed');
    const { s, lines } = scheduler(store, new RecordingPoster(), Date.now, { storageRetryMs: 300 });
    s.start();
    unlinkSync(file);
    expect(s.problem()).toBe('digests.sqlite was deleted while the bot runs');
    expect(await service.subscribe(msg('/digest'), { topics: 'mm', schedule: 'daily', mode: 'rotate' })).toMatchObject({
      kind: 'usage',
      summary: expect.stringMatching(/cannot be stored right now/),
    });
    s.wake();
    expect(lines.some((l) => l.level === 50 && /deleted while the bot runs/.test(String(l.msg)))).toBe(true);
    await until(() => {
      s.wake();
      return s.problem() === undefined;
    }, 'the store restored');
    expect(existsSync(file)).toBe(true);
    expect((await service.subscribe(msg('/digest'), { topics: 'mm', schedule: 'daily', mode: 'rotate' })).title).toBe('Digest subscribed');
    await s.stop();
    store.close();
    const reopened = new SqliteDigestStore(file);
    expect(reopened.listChannel('test', 'c1')).toHaveLength(2); // the one from before the deletion and the one after
    reopened.close();
  });
});

describe('databases from other versions', () => {
  it('GIVEN a newer schema version THEN opening is refused with a clear message', () => {
    const file = tmpFile();
    new SqliteDigestStore(file).close();
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => new SqliteDigestStore(file)).toThrow(/schema version 99, newer than this bot knows \(4\)/);
    expect(new Database(file).pragma('user_version', { simple: true })).toBe(99); // not written
  });

  it('GIVEN a table lacking a column THEN opening is refused naming it', () => {
    const file = tmpFile();
    new SqliteDigestStore(file).close();
    const raw = new Database(file);
    raw.exec('ALTER TABLE subscriptions DROP COLUMN disabled_reason');
    raw.close();
    expect(() => new SqliteDigestStore(file)).toThrow(/table subscriptions lacks disabled_reason/);
  });

  it('GIVEN one row whose schedule no longer parses and one unreadable row THEN those are disabled with a log line and the rest post', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('bad', { schedule: '0 9 * * * * * *' }));
    store.add(sub('ugly'));
    store.add(sub('good'));
    (store as unknown as { db: Database.Database }).db.prepare("UPDATE subscriptions SET topics = 'not json' WHERE id = 'ugly'").run();
    const poster = new RecordingPoster();
    const { s, lines } = scheduler(store, poster, () => MON_0900 + 1000);
    s.start();
    await until(() => poster.posts.length === 1, 'the good one posted');
    expect(poster.posts[0]!.channelId).toBe('chan-good');
    expect(store.get('bad')).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/no longer parses/) });
    expect(store.listEnabled().map((x) => x.id)).toEqual(['good']);
    expect(
      lines
        .filter((l) => l.level === 50 && /disabled/.test(String(l.msg)))
        .map((l) => l.subscription)
        .sort(),
    ).toEqual(['bad', 'ugly']);
  });
});

describe('sub-minute schedules', () => {
  it('GIVEN a schedule every second THEN every slot is posted (at least 3 consecutive)', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('fast', { schedule: '* * * * * *', createdAt: Date.now() }));
    const poster = new RecordingPoster();
    const { s } = scheduler(store, poster, Date.now);
    s.start();
    await until(() => poster.posts.length >= 4, '4 posts', 20_000);
    await s.stop();
    const slots = poster.posts.map((p) => Number.parseInt(p.key.split('-')[1]!, 36));
    for (let i = 1; i < 4; i++) expect(slots[i]! - slots[i - 1]!).toBe(1000); // consecutive: none skipped
  });
});

describe('re-sends past the de-duplication window', () => {
  /** A platform that de-duplicates keys only within `windowMs` and can be searched, like Discord and Matrix. */
  class WindowedPoster implements Poster {
    readonly posts: { key: string; at: number }[] = [];
    attempts = 0;
    searchable: FindResult | undefined; // forced result of findPost, or undefined to search for real
    constructor(
      readonly dedupWindowMs: number,
      private readonly now: () => number,
    ) {}
    async post(_c: string, _r: Reply, key: string) {
      this.attempts++;
      const prior = this.posts.find((p) => p.key === key);
      if (prior && this.now() - prior.at < this.dedupWindowMs) return;
      this.posts.push({ key, at: this.now() });
    }
    async findPost(_c: string, key: string): Promise<FindResult> {
      return this.searchable ?? (this.posts.some((p) => p.key === key) ? 'found' : 'absent');
    }
  }

  function crashedClaim(now: { t: number }) {
    const store = new SqliteDigestStore(':memory:', () => now.t);
    store.add(sub('a'));
    return { store, claim: store.claim('a', MON_0900, slotKey('a', MON_0900))! };
  }

  it('GIVEN a post sent before a crash and a restart 330 s later THEN it is found, not posted again', async () => {
    const now = { t: MON_0900 + 1000 };
    const { store, claim } = crashedClaim(now);
    const poster = new WindowedPoster(120_000, () => now.t);
    await poster.post('chan-a', { kind: 'info' }, claim.key); // the send that happened before SIGKILL
    now.t += 330_000;
    const outcomes: string[] = [];
    const { s } = scheduler(store, poster, () => now.t, { onDelivery: (o) => outcomes.push(o) });
    s.start();
    await until(() => outcomes.length === 1, 'an outcome');
    expect(outcomes).toEqual(['found']);
    expect(poster.posts).toHaveLength(1);
    expect(poster.attempts).toBe(1);
    expect(store.get('a')).toMatchObject({ lastSlot: MON_0900, position: 1 });
  });

  it('GIVEN a claim never sent and a restart past the window THEN the search finds nothing and it is posted once', async () => {
    const now = { t: MON_0900 + 1000 };
    const { store } = crashedClaim(now);
    const poster = new WindowedPoster(120_000, () => now.t);
    now.t += 330_000;
    const { s } = scheduler(store, poster, () => now.t);
    s.start();
    await until(() => store.unfinished().length === 0, 'the claim finished');
    expect(poster.posts).toHaveLength(1);
  });

  it('GIVEN the search cannot tell THEN the slot is given up, never risked twice', async () => {
    const now = { t: MON_0900 + 1000 };
    const { store, claim } = crashedClaim(now);
    const poster = new WindowedPoster(120_000, () => now.t);
    await poster.post('chan-a', { kind: 'info' }, claim.key);
    poster.searchable = 'unknown';
    now.t += 330_000;
    const outcomes: string[] = [];
    const { s } = scheduler(store, poster, () => now.t, { onDelivery: (o) => outcomes.push(o) });
    s.start();
    await until(() => outcomes.length === 1, 'an outcome');
    expect(outcomes).toEqual(['given-up']);
    expect(poster.posts).toHaveLength(1);
    expect(store.unfinished()).toEqual([]);
  });

  it('GIVEN a restart inside the window and a search that cannot tell THEN the post is re-sent with its key (the platform drops it)', async () => {
    const now = { t: MON_0900 + 1000 };
    const { store, claim } = crashedClaim(now);
    const poster = new WindowedPoster(120_000, () => now.t);
    await poster.post('chan-a', { kind: 'info' }, claim.key);
    poster.searchable = 'unknown';
    now.t += 60_000;
    const { s } = scheduler(store, poster, () => now.t);
    s.start();
    await until(() => store.unfinished().length === 0, 'the claim finished');
    expect(poster.attempts).toBe(2);
    expect(poster.posts).toHaveLength(1);
  });
});

describe('retries have one owner', () => {
  it('GIVEN a 429 with a wait THEN the scheduler waits it out before the next single attempt', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a'));
    const at: number[] = [];
    let n = 0;
    const poster: Poster = {
      post: async () => {
        at.push(Date.now());
        if (n++ === 0) throw new DeliveryError('429', 'retry-after', 300);
      },
    };
    const { s } = scheduler(store, poster, () => MON_0900 + 1000, { retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 1000 } });
    s.start();
    await until(() => at.length === 2 && store.unfinished().length === 0, 'the second attempt');
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(290);
  });
});
