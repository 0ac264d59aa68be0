import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Subscription } from '../../src/digest/store.js';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { makeSubscription } from '../support/subscription.js';

const sub = (id: string, extra: Partial<Subscription> = {}): Subscription =>
  makeSubscription(id, {
    platform: 'discord',
    channelId: 'c1',
    topics: ['filesystems', 'tracing'],
    schedule: '0 9 * * 1',
    timezone: 'Europe/Berlin',
    createdAt: 1_000,
    ...extra,
  });

describe('digest store on a real SQLite file', () => {
  it('GIVEN a subscription, a delivered slot and a restart THEN the state is intact', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ksb-store-')), 'digests.sqlite');
    const a = new SqliteDigestStore(file);
    expect(a.version).toBe(4);
    a.add(sub('aaa'));
    a.add(sub('bbb', { channelId: 'c2' }));
    const claim = a.claim('aaa', 5_000, 'aaa-key')!;
    a.finish(claim, 'delivered', { filesystems: 'h1' });
    a.close();

    const b = new SqliteDigestStore(file);
    expect(b.get('aaa')).toMatchObject({
      position: 1,
      lastSlot: 5_000,
      lastHashes: { filesystems: 'h1' },
      topics: ['filesystems', 'tracing'],
      timezone: 'Europe/Berlin',
    });
    expect(b.listChannel('discord', 'c1').map((s) => s.id)).toEqual(['aaa']);
    expect(b.claim('aaa', 5_000, 'aaa-key')).toBeUndefined(); // delivered: never again
    const journal = new Database(file, { readonly: true }).pragma('journal_mode', { simple: true });
    expect(journal).toBe('wal');
    b.close();
  });

  it('GIVEN a claim left unfinished by a crash THEN it comes back with the same key and position', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ksb-store-')), 'digests.sqlite');
    const a = new SqliteDigestStore(file);
    a.add(sub('aaa', { position: 4 }));
    expect(a.claim('aaa', 7_000, 'aaa-k7')).toMatchObject({ key: 'aaa-k7', position: 4 });
    a.close(); // "crash" between claim and delivery

    const b = new SqliteDigestStore(file);
    expect(b.unfinished()).toEqual([
      { subscriptionId: 'aaa', slot: 7_000, key: 'aaa-k7', position: 4, state: 'claimed', claimedAt: expect.any(Number), resumed: true },
    ]);
    expect(b.claim('aaa', 7_000, 'other')).toMatchObject({ key: 'aaa-k7' });
    b.finish(b.unfinished()[0]!, 'delivered', {});
    expect(b.unfinished()).toEqual([]);
    expect(b.get('aaa')!.position).toBe(5);
    b.close();
  });

  it('GIVEN unsubscribe from another channel THEN nothing is removed; from its own THEN it is', () => {
    const s = new SqliteDigestStore(':memory:');
    s.add(sub('aaa'));
    expect(s.remove('aaa', 'discord', 'other')).toBe(false);
    expect(s.remove('aaa', 'matrix', 'c1')).toBe(false);
    expect(s.remove('aaa', 'discord', 'c1')).toBe(true);
    expect(s.get('aaa')).toBeUndefined();
    s.close();
  });

  it('GIVEN a disabled subscription THEN it is not listed as enabled and cannot be claimed; skips advance the last slot', () => {
    const s = new SqliteDigestStore(':memory:');
    s.add(sub('aaa'));
    s.add(sub('bbb'));
    s.disable('aaa', 'channel gone');
    expect(s.listEnabled().map((x) => x.id)).toEqual(['bbb']);
    expect(s.claim('aaa', 1, 'k')).toBeUndefined();
    s.skip('bbb', 9_000);
    expect(s.get('bbb')).toMatchObject({ lastSlot: 9_000, position: 0 });
    expect(s.claim('bbb', 9_000, 'k')).toBeUndefined();
    s.close();
  });

  it('GIVEN state set by key THEN it outlives closing and reopening the file; null deletes it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ksb-store-')), 'digests.sqlite');
    const a = new SqliteDigestStore(file);
    expect(a.getState('discord:seen')).toBeUndefined();
    a.setState('discord:seen', '{"1":"2"}');
    a.setState('discord:seen', '{"1":"3"}');
    a.setState('other', 'x');
    a.close();
    const b = new SqliteDigestStore(file);
    expect(b.getState('discord:seen')).toBe('{"1":"3"}');
    b.setState('other', null);
    expect(b.getState('other')).toBeUndefined();
    expect(b.getState('discord:seen')).toBe('{"1":"3"}');
    b.close();
  });

  it('GIVEN a file at schema version 1 THEN opening it runs the later migrations and keeps the data', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ksb-store-')), 'digests.sqlite');
    const a = new SqliteDigestStore(file);
    a.add(sub('aaa'));
    a.close();
    const raw = new Database(file);
    raw.exec('DROP INDEX deliveries_finished');
    raw.pragma('user_version = 1');
    raw.close();

    const b = new SqliteDigestStore(file);
    expect(b.version).toBe(4);
    expect(b.get('aaa')).toMatchObject({ id: 'aaa', schedule: '0 9 * * 1' });
    b.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'deliveries_finished'").get()).toEqual({
      name: 'deliveries_finished',
    });
    check.close();
  });

  it('GIVEN old finished deliveries THEN prune deletes them and keeps open claims and recent ones; old slots still never re-run', () => {
    let now = 1_000_000;
    const s = new SqliteDigestStore(':memory:', () => now);
    s.add(sub('aaa'));
    s.finish(s.claim('aaa', 10_000, 'k1')!, 'delivered', {});
    s.skip('aaa', 20_000);
    now = 5_000_000;
    s.finish(s.claim('aaa', 30_000, 'k3')!, 'delivered', {});
    s.claim('aaa', 40_000, 'k4'); // open
    expect(s.prune(2_000_000)).toBe(2);
    expect(s.unfinished().map((c) => c.slot)).toEqual([40_000]);
    expect(s.claim('aaa', 30_000, 'again')).toBeUndefined(); // recent record kept
    expect(s.get('aaa')!.lastSlot).toBe(30_000); // what keeps pruned slots (10,000 and 20,000) from running again
    s.close();
  });
});
