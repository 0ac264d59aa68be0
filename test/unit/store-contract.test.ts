/**
 * The store contract, run against both implementations: SQLite (a real file) and PostgreSQL (a real server
 * started for this file, see test/support/postgres.ts). Lease expiry and take-over run where the store is shared.
 */
import { describe, expect, it } from 'vitest';
import type { Subscription } from '../../src/digest/store.js';
import { PG_MIGRATIONS, PgDigestStore } from '../../src/store/pg-store.js';
import { until } from '../support/poll.js';
import { type StoreKind, storeTestbed } from '../support/stores.js';
import { makeSubscription } from '../support/subscription.js';

const testbed = storeTestbed('contract');

const sub = (id: string, extra: Partial<Subscription> = {}): Subscription =>
  makeSubscription(id, { platform: 'discord', channelId: 'c1', topics: ['filesystems'], createdAt: 1_700_000_000_000, ...extra });

describe.each<StoreKind>(['sqlite', 'postgres'])('digest store contract: %s', (kind) => {
  /** Opens handles on one fresh store (two processes sharing it, or a reopen for SQLite). */
  const fresh = () => testbed.fresh(kind);

  it('keeps subscriptions: add, get, list by channel, list enabled, disable, remove only in its own channel', async () => {
    const s = await (await fresh())('a');
    await s.add(sub('x', { lastHashes: { filesystems: 'h1' }, topics: ['filesystems', 'tracing'] }));
    await s.add(sub('y', { channelId: 'c2', createdAt: 1_700_000_000_001, allTopics: true, topics: [] }));
    expect(await s.get('x')).toEqual(sub('x', { lastHashes: { filesystems: 'h1' }, topics: ['filesystems', 'tracing'] }));
    expect(await s.get('nope')).toBeUndefined();
    expect((await s.listChannel('discord', 'c1')).map((x) => x.id)).toEqual(['x']);
    expect((await s.listEnabled()).map((x) => x.id)).toEqual(['x', 'y']);
    await s.disable('y', 'gone (404)');
    expect(await s.get('y')).toMatchObject({ enabled: false, disabledReason: 'gone (404)' });
    expect((await s.listEnabled()).map((x) => x.id)).toEqual(['x']);
    expect(await s.remove('x', 'discord', 'c2')).toBe(false);
    expect(await s.remove('x', 'discord', 'c1')).toBe(true);
    expect(await s.get('x')).toBeUndefined();
    await s.close();
  });

  it('claims a slot once; finish advances position, last slot and hashes; a finished slot cannot be claimed again', async () => {
    const open = await fresh();
    const a = await open('a');
    const b = await open('b');
    await a.add(sub('x', { position: 3 }));
    const c = await a.claim('x', 1000, 'k1');
    expect(c).toEqual({ subscriptionId: 'x', slot: 1000, key: 'k1', position: 3, state: 'claimed', claimedAt: expect.any(Number) });
    if (a.shared) expect(await b.claim('x', 1000, 'k1')).toBeUndefined(); // another replica: not yours
    await a.finish(c!, 'delivered', { filesystems: 'h2' });
    expect(await b.get('x')).toMatchObject({ position: 4, lastSlot: 1000, lastHashes: { filesystems: 'h2' } });
    expect(await a.claim('x', 1000, 'k1')).toBeUndefined();
    expect(await b.claim('x', 1000, 'k1')).toBeUndefined();
    // failed: the slot is done, the position stays
    const c2 = await b.claim('x', 2000, 'k2');
    await b.finish(c2!, 'failed', {});
    expect(await a.get('x')).toMatchObject({ position: 4, lastSlot: 2000, lastHashes: { filesystems: 'h2' } });
    // no claim on a disabled or unknown subscription
    await a.disable('x', 'r');
    expect(await a.claim('x', 3000, 'k3')).toBeUndefined();
    expect(await a.claim('nope', 3000, 'k3')).toBeUndefined();
    await a.close();
    await b.close();
  });

  it('skip records the slot as done without posting; prune deletes old finished records only', async () => {
    const s = await (await fresh())('a');
    await s.add(sub('x'));
    await s.skip('x', 500);
    expect(await s.get('x')).toMatchObject({ lastSlot: 500, position: 0 });
    expect(await s.claim('x', 500, 'k')).toBeUndefined();
    const open = await s.claim('x', 600, 'k6');
    expect(open).toBeDefined();
    expect(await s.prune(Date.now() + 1000)).toBe(1); // the skipped record; the open claim stays
    expect(await s.prune(Date.now() + 1000)).toBe(0);
    await s.close();
  });

  it('leases: one holder at a time, renewable by the holder, free after release or expiry; live count by prefix', async () => {
    const open = await fresh();
    const s = await open('a');
    expect(await s.acquireLease('gateway', 'r1', 60_000)).toBe(true);
    expect(await s.acquireLease('gateway', 'r2', 60_000)).toBe(false);
    expect(await s.acquireLease('gateway', 'r1', 60_000)).toBe(true); // renewal
    await s.releaseLease('gateway', 'r2'); // not the holder: no effect
    expect(await s.acquireLease('gateway', 'r2', 60_000)).toBe(false);
    await s.releaseLease('gateway', 'r1');
    expect(await s.acquireLease('gateway', 'r2', 150)).toBe(true);
    await until("r2's lease to expire", async () => s.acquireLease('gateway', 'r3', 60_000)); // r2's lease expired, r3 takes it
    expect(await s.acquireLease('gateway', 'r2', 60_000)).toBe(false);
    await s.acquireLease('replica:r1', 'r1', 60_000);
    await s.acquireLease('replica:r2', 'r2', 60_000);
    await s.acquireLease('replica:r3', 'r3', 100);
    await until('two live replica leases', async () => (await s.countLeases('replica:')) === 2);
    await s.close();
  });

  it('state: set, read back after reopen where persistent, delete', async () => {
    const open = await fresh();
    const a = await open('a');
    expect(await a.getState('matrix.sync')).toBeUndefined();
    await a.setState('matrix.sync', 's1');
    await a.setState('matrix.sync', 's2');
    expect(await a.getState('matrix.sync')).toBe('s2');
    if (a.shared) {
      const b = await open('b');
      expect(await b.getState('matrix.sync')).toBe('s2');
      await b.close();
    }
    await a.setState('matrix.sync', null);
    expect(await a.getState('matrix.sync')).toBeUndefined();
    await a.close();
  });

  it('unfinished claims: SQLite re-sends its own after a restart; a shared store hands an expired claim to exactly one replica, with its key', async () => {
    const open = await fresh();
    const a = await open('a', 200);
    await a.add(sub('x'));
    await a.add(sub('y'));
    const cx = await a.claim('x', 1000, 'kx');
    if (!a.shared) {
      await a.close();
      const again = await open('a');
      expect(await again.unfinished()).toEqual([{ ...cx, resumed: true }]); // resumed: it may have been posted before the restart
      await again.close();
      return;
    }
    // a renews while alive: nobody takes over
    const b = await open('b', 200);
    const c = await open('c', 200);
    for (let i = 0; i < 4; i++) {
      expect(await a.renewClaims()).toBe(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(await b.unfinished()).toEqual([]);
    }
    // a dies (stops renewing): exactly one of b and c takes the claim over, with the same key
    await a.close();
    let taken: { by: string; claims: unknown[] }[] = [];
    await until('a take-over', async () => {
      const [fromB, fromC] = await Promise.all([b.unfinished(), c.unfinished()]);
      if (fromB.length) taken.push({ by: 'b', claims: fromB });
      if (fromC.length) taken.push({ by: 'c', claims: fromC });
      return taken.length > 0;
    });
    expect(taken).toHaveLength(1);
    expect(taken[0]!.claims).toEqual([{ ...cx, resumed: true }]); // resumed: the dead holder may have posted it
    const winner = taken[0]!.by === 'b' ? b : c;
    const loser = winner === b ? c : b;
    // the new holder renews it: it is not taken over again
    await winner.renewClaims();
    expect(await loser.unfinished()).toEqual([]);
    await winner.finish(cx!, 'delivered', {});
    expect(await winner.renewClaims()).toBe(0);
    taken = [];
    await b.close();
    await c.close();
  });
});

describe('PostgreSQL store', () => {
  it('migrates an empty database once, with replicas starting together, and refuses a newer schema', async () => {
    const url = await testbed.postgres.database();
    const stores = await Promise.all([1, 2, 3, 4].map((i) => PgDigestStore.open({ url, holder: `r${i}`, claimLeaseMs: 1000 })));
    expect(await stores[0]!.version()).toBe(PG_MIGRATIONS.length);
    expect((await stores[0]!.pool.query('SELECT version FROM schema_migrations')).rowCount).toBe(PG_MIGRATIONS.length);
    await stores[0]!.pool.query('INSERT INTO schema_migrations (version) VALUES (99)');
    await expect(PgDigestStore.open({ url, holder: 'r5', claimLeaseMs: 1000 })).rejects.toThrow(/version 99, newer/);
    for (const s of stores) await s.close();
  });

  it('racing replicas claim 1,200 slots exactly once between them', async () => {
    const url = await testbed.postgres.database();
    const stores = await Promise.all([1, 2, 3, 4].map((i) => PgDigestStore.open({ url, holder: `r${i}`, claimLeaseMs: 60_000 })));
    for (let i = 0; i < 300; i++) await stores[0]!.add(sub(`s${i}`));
    const won = await Promise.all(
      stores.map(async (s) => {
        let n = 0;
        for (let i = 0; i < 300; i++) for (const slot of [1, 2, 3, 4]) if (await s.claim(`s${i}`, slot, `k${i}-${slot}`)) n++;
        return n;
      }),
    );
    expect(won.reduce((a, b) => a + b, 0)).toBe(1200);
    for (const s of stores) await s.close();
  });

  it('batch claims: replicas racing overlapping batches (in different orders) claim 1,200 slots exactly once, with the stored position; a disabled subscription is not claimed', async () => {
    const url = await testbed.postgres.database();
    const stores = await Promise.all([1, 2, 3, 4].map((i) => PgDigestStore.open({ url, holder: `r${i}`, claimLeaseMs: 60_000 })));
    for (let i = 0; i < 300; i++) await stores[0]!.add(sub(`s${i}`, { position: i % 7 }));
    await stores[0]!.add(sub('off', { enabled: false }));
    const all = [...Array(300).keys()].flatMap((i) => [1, 2, 3, 4].map((slot) => ({ id: `s${i}`, slot, key: `k${i}-${slot}` })));
    const got = await Promise.all(
      stores.map(async (s, n) => {
        const mine = n % 2 ? [...all].reverse() : all; // opposite orders: rows are locked in key order, so no deadlock
        const claims = [];
        for (let at = 0; at < mine.length; at += 40) claims.push(...(await s.claimMany(mine.slice(at, at + 40))));
        return claims;
      }),
    );
    const claims = got.flat();
    expect(claims).toHaveLength(1200);
    expect(new Set(claims.map((c) => `${c.subscriptionId}/${c.slot}`)).size).toBe(1200);
    expect(claims.find((c) => c.subscriptionId === 's12' && c.slot === 3)).toMatchObject({ key: 'k12-3', position: 12 % 7, state: 'claimed' });
    expect(
      await stores[0]!.claimMany([
        { id: 'off', slot: 1, key: 'x' },
        { id: 's1', slot: 1, key: 'k1-1' },
      ]),
    ).toEqual([]);
    expect(await stores[0]!.claimMany([])).toEqual([]);
    for (const s of stores) await s.close();
  });
});
