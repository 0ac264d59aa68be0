/**
 * `npm run store:copy -- --from <file>` as a spawned process: a SQLite deployment's subscriptions and delivery
 * state arrive in a real PostgreSQL database; an open claim arrives expired, so a replica takes it over with its
 * key; a second run copies nothing twice; bad invocations exit 2 with a clear message.
 */
import { describe, expect, it } from 'vitest';
import type { Subscription } from '../../src/digest/store.js';
import { PgDigestStore } from '../../src/store/pg-store.js';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { cleanEnv, runNode } from '../support/spawn.js';
import { storeTestbed } from '../support/stores.js';
import { makeSubscription } from '../support/subscription.js';

const testbed = storeTestbed('copy');

const sub = (id: string, extra: Partial<Subscription> = {}): Subscription =>
  makeSubscription(id, {
    platform: 'matrix',
    channelId: '!r:x',
    topics: ['filesystems', 'tracing'],
    schedule: '0 9 * * 1',
    timezone: 'Europe/Berlin',
    mode: 'board',
    createdBy: '@a:x',
    createdAt: 1_700_000_000_000,
    ...extra,
  });

describe('npm run store:copy', () => {
  it('copies subscriptions and delivery state; an open claim is re-sent by a replica with its key; a second run copies nothing twice', async () => {
    const file = testbed.path('digests.sqlite');
    const s = new SqliteDigestStore(file);
    s.add(sub('done', { lastHashes: { filesystems: 'h' } }));
    s.add(sub('open', { platform: 'discord', channelId: '123', allTopics: true, topics: [] }));
    s.add(sub('off'));
    const c1 = s.claim('done', 1000, 'done-key')!;
    s.finish(c1, 'delivered', { filesystems: 'h2' });
    s.claim('open', 2000, 'open-key');
    s.disable('off', 'room gone (404)');
    const expected = ['done', 'open', 'off'].map((id) => s.get(id));
    s.close();

    const url = await testbed.postgres.database();
    const run = () => runNode(['dist/src/cli/store-copy.js', '--from', file], '', cleanEnv({ DATABASE_URL: url }));
    const first = await run();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('copied 3 subscriptions and 2 delivery records (1 open claims');
    const again = await run();
    expect(again.stdout).toContain('copied 0 subscriptions and 0 delivery records');

    const pg = await PgDigestStore.open({ url, holder: 'replica-a', claimLeaseMs: 60_000 });
    try {
      for (const e of expected) expect(await pg.get(e!.id)).toEqual(e);
      expect(await pg.claim('done', 1000, 'x')).toBeUndefined(); // delivered stays delivered
      expect(await pg.unfinished()).toEqual([
        { subscriptionId: 'open', slot: 2000, key: 'open-key', position: 0, state: 'claimed', claimedAt: expect.any(Number), resumed: true },
      ]); // resumed: it may have been posted from SQLite
    } finally {
      await pg.close();
    }
  });

  it('exits 2 with a clear message without --from, with a missing file, or without DATABASE_URL', async () => {
    const noFrom = await runNode(['dist/src/cli/store-copy.js'], '', cleanEnv({ DATABASE_URL: testbed.postgres.url() }));
    expect(noFrom.code).toBe(2);
    expect(noFrom.stderr).toContain('--from is required');
    const missing = await runNode(
      ['dist/src/cli/store-copy.js', '--from', testbed.path('nope.sqlite')],
      '',
      cleanEnv({ DATABASE_URL: testbed.postgres.url() }),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
    const noDb = await runNode(['dist/src/cli/store-copy.js', '--from', testbed.path('digests.sqlite')], '', cleanEnv());
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('DATABASE_URL: required');
  });
});
