/**
 * The digest scheduler on the shared PostgreSQL store (a real server): replicas claim a fan-out in batches
 * and split it, each slot posted once; a failed batch claim goes back to planning instead of being lost.
 */
import { describe, expect, it } from 'vitest';
import { DigestScheduler } from '../../src/digest/scheduler.js';
import type { Subscription } from '../../src/digest/store.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import type { PgDigestStore } from '../../src/store/pg-store.js';
import { captureLogger } from '../support/bot.js';
import { sharedPostgres } from '../support/postgres.js';
import { RecordingPoster } from '../support/recording-poster.js';
import { makeSubscription } from '../support/subscription.js';

const HOUR = 3600_000;
const MON_0900 = Date.parse('2026-06-01T09:00:00Z');
const knowledge = new KnowledgeBase('knowledge');
const { replicas } = sharedPostgres('sch');

const sub = (id: string): Subscription => makeSubscription(id, { createdAt: MON_0900 - 10 * 24 * HOUR });

/** Counts the batch claims a store makes (the real method runs). */
function countClaims(store: PgDigestStore): { batches: number; single: number; failNext: number } {
  const c = { batches: 0, single: 0, failNext: 0 };
  const many = store.claimMany.bind(store);
  const one = store.claim.bind(store);
  store.claimMany = async (slots) => {
    c.batches++;
    if (c.failNext > 0) {
      c.failNext--;
      throw new Error('connection terminated unexpectedly');
    }
    return many(slots);
  };
  store.claim = async (...a) => {
    c.single++;
    return one(...a);
  };
  return c;
}

async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function replica(store: PgDigestStore, poster: RecordingPoster, storageRetryMs = 30_000): DigestScheduler {
  return new DigestScheduler({
    store,
    knowledge,
    posters: new Map([['test', poster]]),
    logger: captureLogger().logger,
    catchUpGraceMs: HOUR,
    now: () => MON_0900 + 1000,
    retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 },
    storageRetryMs,
    renewEveryMs: 60_000,
  });
}

describe('digest scheduler on the shared store', () => {
  it('two replicas split 300 due slots, each posted once, claimed in batches (no claim per slot)', async () => {
    const stores = await replicas(2);
    for (let i = 0; i < 300; i++) await stores[0]!.add(sub(`s${String(i).padStart(3, '0')}`));
    const counts = stores.map(countClaims);
    const posters = [new RecordingPoster(), new RecordingPoster()];
    const schedulers = stores.map((s, i) => replica(s, posters[i]!));
    for (const s of schedulers) s.start();
    await until(() => posters[0]!.posts.length + posters[1]!.posts.length >= 300);
    await until(() => schedulers.every((s) => s.inFlight === 0));
    const keys = posters.flatMap((p) => p.posts.map((x) => x.key));
    expect(keys).toHaveLength(300);
    expect(new Set(keys).size).toBe(300);
    expect(posters[0]!.posts.length).toBeGreaterThan(0);
    expect(posters[1]!.posts.length).toBeGreaterThan(0);
    // Batches of up to 16 (2 x the default concurrency of 8), refilled at half: far fewer than one per slot.
    expect(counts[0]!.single + counts[1]!.single).toBe(0);
    expect(counts[0]!.batches + counts[1]!.batches).toBeLessThan(120);
    for (const s of schedulers) await s.stop();
    for (const s of stores) await s.close();
  });

  it('a batch claim that fails (database gone for a moment) puts the queue back to planning; every slot is posted once later', async () => {
    const store = (await replicas(1))[0]!;
    for (let i = 0; i < 40; i++) await store.add(sub(`f${i}`));
    const counts = countClaims(store);
    counts.failNext = 1;
    const poster = new RecordingPoster();
    const s = replica(store, poster, 50);
    s.start();
    await until(() => poster.posts.length >= 40);
    await until(() => s.inFlight === 0);
    expect(new Set(poster.posts.map((p) => p.key)).size).toBe(40);
    expect(poster.posts).toHaveLength(40);
    await s.stop();
    await store.close();
  });
});
