import { afterEach, describe, expect, it } from 'vitest';
import type { Poster } from '../../src/digest/port.js';
import { DigestScheduler, slotKey } from '../../src/digest/scheduler.js';
import type { Subscription } from '../../src/digest/store.js';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { captureLogger } from '../support/bot.js';
import { makeSubscription } from '../support/subscription.js';
import { RecordingPoster } from '../support/recording-poster.js';

const HOUR = 3600_000;
const knowledge = new KnowledgeBase('knowledge');
const MON_0900 = Date.parse('2026-06-01T09:00:00Z'); // a Monday
const schedulers: DigestScheduler[] = [];

const sub = (id: string, extra: Partial<Subscription> = {}): Subscription => makeSubscription(id, { createdAt: MON_0900 - 10 * 24 * HOUR, ...extra });

function scheduler(
  store: SqliteDigestStore,
  poster: RecordingPoster,
  now: () => number,
  extra: { onDelivery?: (o: string) => void; logger?: ReturnType<typeof captureLogger>['logger'] } = {},
) {
  const s = new DigestScheduler({
    store,
    knowledge,
    posters: new Map([['test', poster]]),
    logger: captureLogger().logger,
    catchUpGraceMs: HOUR,
    now,
    retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 },
    ...extra,
  });
  schedulers.push(s);
  return s;
}

async function settle(s: DigestScheduler) {
  for (let i = 0; i < 100 && s.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop();
});

describe('digest scheduler', () => {
  it('GIVEN a bot down for ten days and the latest slot 10 minutes old THEN exactly that one slot is posted, once, no backlog', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a'));
    const poster = new RecordingPoster();
    const now = () => MON_0900 + 10 * 60_000;
    const s1 = scheduler(store, poster, now);
    s1.start();
    await settle(s1);
    expect(poster.posts.map((p) => p.key)).toEqual([slotKey('a', MON_0900)]);
    await s1.stop();
    const s2 = scheduler(store, poster, now); // a restart at the same moment
    s2.start();
    await settle(s2);
    expect(poster.posts).toHaveLength(1);
    expect(store.get('a')).toMatchObject({ lastSlot: MON_0900, position: 1 });
  });

  it('GIVEN the latest missed slot is older than the grace period THEN it is skipped and logged, nothing posted', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a'));
    const poster = new RecordingPoster();
    const { logger, lines } = captureLogger();
    const outcomes: string[] = [];
    const s = scheduler(store, poster, () => MON_0900 + 2 * HOUR, { logger, onDelivery: (o) => outcomes.push(o) });
    s.start();
    await settle(s);
    expect(poster.attempts).toEqual([]);
    expect(store.get('a')).toMatchObject({ lastSlot: MON_0900, position: 0 });
    expect(outcomes).toEqual(['skipped']);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 30,
        subscription: 'a',
        slot: new Date(MON_0900).toISOString(),
        msg: expect.stringContaining('older than the catch-up grace; skipped'),
      }),
    );
  });

  it('GIVEN consecutive slots in rotate mode THEN topics cycle in talk order', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a', { topics: ['tracing', 'filesystems', 'memory-management'].sort() }));
    const poster = new RecordingPoster();
    for (let day = 0; day < 4; day++) {
      const s = scheduler(store, poster, () => MON_0900 + day * 24 * HOUR + 1000);
      s.start();
      await settle(s);
      await s.stop();
    }
    expect(poster.posts.map((p) => p.reply.title)).toEqual(['Digest: Filesystems', 'Digest: Memory management', 'Digest: Tracing', 'Digest: Filesystems']);
  });

  it('GIVEN transient failures THEN the send is retried and delivered once', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a'));
    const poster = new RecordingPoster();
    poster.failures = ['transient', 'transient'];
    const outcomes: string[] = [];
    const s = scheduler(store, poster, () => MON_0900 + 1000, { onDelivery: (o) => outcomes.push(o) });
    s.start();
    await settle(s);
    expect(poster.attempts).toHaveLength(3);
    expect(new Set(poster.attempts).size).toBe(1); // the same idempotency key every time
    expect(poster.posts).toHaveLength(1);
    expect(outcomes).toEqual(['delivered']);
  });

  it('GIVEN a channel that is gone (404) THEN the subscription is disabled, not retried forever', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a'));
    const poster = new RecordingPoster();
    poster.failures = ['gone'];
    const s = scheduler(store, poster, () => MON_0900 + 1000);
    s.start();
    await settle(s);
    expect(poster.attempts).toHaveLength(1);
    expect(store.get('a')).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('404') });
  });

  it('GIVEN a claim left by a crash THEN it is re-sent with the same key and shows once', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a'));
    const poster = new RecordingPoster();
    const key = slotKey('a', MON_0900);
    await poster.post('chan-a', { kind: 'info' }, key); // the send that happened before the crash
    store.claim('a', MON_0900, key); // claimed, never marked delivered
    const s = scheduler(store, poster, () => MON_0900 + 5 * 60_000);
    s.start();
    await settle(s);
    expect(poster.attempts).toEqual([key, key]);
    expect(poster.posts).toHaveLength(1);
    expect(store.unfinished()).toEqual([]);
  });

  it('GIVEN the topics changed since the last post THEN the post marks the update', async () => {
    const store = new SqliteDigestStore(':memory:');
    store.add(sub('a', { topics: ['filesystems'], lastHashes: { filesystems: 'old-hash' } }));
    const poster = new RecordingPoster();
    const s = scheduler(store, poster, () => MON_0900 + 1000);
    s.start();
    await settle(s);
    expect(poster.posts[0]!.reply.title).toBe('Updated: Filesystems');
    expect(store.get('a')!.lastHashes.filesystems).toBe(knowledge.current.knowledge.topicById.get('filesystems')!.hash);
  });

  it("GIVEN one platform stalls THEN the other platform's digests still go out (one lane per platform)", async () => {
    const store = new SqliteDigestStore(':memory:');
    for (let i = 0; i < 20; i++) {
      store.add(sub(`s${i}`, { platform: 'stuck' }));
      store.add(sub(`f${i}`, { platform: 'test' }));
    }
    const fast = new RecordingPoster();
    let stalled = 0;
    const stuck = { post: () => new Promise<void>(() => void stalled++) }; // never answers
    const s = new DigestScheduler({
      store,
      knowledge,
      posters: new Map<string, Poster>([
        ['test', fast],
        ['stuck', stuck],
      ]),
      logger: captureLogger().logger,
      catchUpGraceMs: HOUR,
      now: () => MON_0900 + 1000,
      pace: { stuck: { concurrency: 2 }, test: { concurrency: 2 } },
    });
    schedulers.push(s);
    s.start();
    for (let i = 0; i < 200 && fast.posts.length < 20; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fast.posts).toHaveLength(20);
    expect(stalled).toBe(2); // the stuck lane holds its own two sends, and only those
    await s.stop(50); // returns although the stuck platform never answers (without the bound this test hangs)
    expect(store.unfinished().filter((c) => c.subscriptionId.startsWith('s'))).toHaveLength(20); // still claimed, for the next start
  });

  it('GIVEN a per-second pace THEN no more sends start within one second than it allows', async () => {
    const store = new SqliteDigestStore(':memory:');
    for (let i = 0; i < 12; i++) store.add(sub(`p${i}`));
    const poster = new RecordingPoster();
    const s = new DigestScheduler({
      store,
      knowledge,
      posters: new Map([['test', poster]]),
      logger: captureLogger().logger,
      catchUpGraceMs: HOUR,
      now: () => MON_0900 + 1000,
      pace: { test: { concurrency: 12, perSecond: 5 } },
    });
    schedulers.push(s);
    s.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(poster.attempts).toHaveLength(5); // the first window's budget; the rest wait for the next windows
    for (let i = 0; i < 100 && poster.posts.length < 12; i++) await new Promise((r) => setTimeout(r, 50));
    expect(poster.posts).toHaveLength(12);
  });
});
