/**
 * The Matrix sync position across a crash: the built bot (dist/src/main.js) answers a command, is killed with
 * SIGKILL before its next write of the sync position (SyncStorage writes at most once per second), and is
 * started again on the same DATA_DIR. The position on disk is from before the command, so the homeserver
 * delivers it again; the bot finds its reply in the room (by the reply's transaction id) and neither runs the
 * command again nor answers again. Nothing is skipped, nothing is done twice.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeMatrix, type FakeMatrix, type RecordedRequest } from '../fakes/matrix/server.js';
import { inReplyTo } from '../support/matrix-bot.js';
import { until } from '../support/poll.js';
import { cleanEnv, spawnBot, type SpawnedBot } from '../support/spawn.js';

const ADMIN = '@admin:fake.local';
const ALICE = '@alice:fake.local';
const BOB = '@bob:fake.local';
/** Tries at a kill that lands before the next write (each is a race the bot loses by a second). */
const ATTEMPTS = 5;

let fake: FakeMatrix;
let dataDir: string;
let bots: SpawnedBot[];
/** When each bot was started (performance.now(), the clock of the fake's request log). */
const startedAt = new WeakMap<SpawnedBot, number>();

beforeEach(async () => {
  fake = await startFakeMatrix({ timelineLimit: 50 });
  dataDir = mkdtempSync(join(tmpdir(), 'matrix-crash-'));
  bots = [];
});

afterEach(async () => {
  for (const b of bots) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
  await fake.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function startBot(): SpawnedBot {
  const at = performance.now();
  const bot = spawnBot(cleanEnv({ MATRIX_HOMESERVER_URL: fake.url, MATRIX_ACCESS_TOKEN: fake.accessToken, DATA_DIR: dataDir }));
  startedAt.set(bot, at);
  bots.push(bot);
  return bot;
}

/** The sync position in DATA_DIR/matrix-sync.json (undefined before the first write). */
function tokenOnDisk(): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dataDir, 'matrix-sync.json'), 'utf8')) as { syncToken?: string | null }).syncToken ?? undefined;
  } catch {
    return undefined;
  }
}

/** The bot's /sync long poll still held by the fake (nothing left to deliver), if any; not one of a killed bot. */
function heldSync(bot: SpawnedBot): RecordedRequest | undefined {
  const after = startedAt.get(bot)!;
  return fake.requests.findLast((r) => r.path === '/_matrix/client/v3/sync' && r.query.has('since') && r.status === undefined && r.at > after);
}

/** Waits until the bot is idle and its position is on disk: the held poll's `since` is the written token. */
async function idleAndWritten(bot: SpawnedBot): Promise<string> {
  let token: string | undefined;
  await until(
    'the bot idle with its sync position written',
    () => {
      token = tokenOnDisk();
      return token !== undefined && heldSync(bot)?.query.get('since') === token;
    },
    {
      timeoutMs: 30_000,
      context: () => `on disk: ${tokenOnDisk()}, held since: ${heldSync(bot)?.query.get('since')}\n${bot.logs().split('\n').slice(-10).join('\n')}`,
    },
  );
  return token!;
}

/** Digest subscriptions in DATA_DIR's database. */
function subscriptions(): number {
  const db = new Database(join(dataDir, 'digests.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM subscriptions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('Matrix sync position across SIGKILL', () => {
  it('a command answered just before the kill is delivered again after the restart, and neither runs nor is answered again', async () => {
    const room = fake.createRoom({ members: [ADMIN, ALICE] });
    let question: string | undefined;
    let before: string | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS && question === undefined; attempt++) {
      const bot = startBot();
      before = await idleAndWritten(bot);
      const asked = fake.sendText(room, ADMIN, `!digest subscribe topics:fs schedule:"0 9 * * ${attempt}" mode:rotate`);
      await fake.waitForSent((e) => inReplyTo(e) === asked, 20_000);
      bot.child.kill('SIGKILL');
      await bot.exited;
      // Handled and answered, but the position that covers it is not on disk: the case under test.
      if (tokenOnDisk() === before) question = asked;
    }
    expect(question, `in ${ATTEMPTS} attempts the position after the question was always written before the kill`).toBeDefined();
    const reply = fake.sent.find((e) => inReplyTo(e) === question)!;
    expect(reply.content.body).toContain('Digest subscribed');
    const subscribed = subscriptions();
    const puts = () => fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/send/m.room.message/${reply.txnId}`));
    expect(puts()).toHaveLength(1);

    const restarted = startBot();
    await restarted.waitForLog((l) => l.msg === 'connected to Matrix' && l.resumed === true, 30_000);
    // Delivered again: the restarted bot syncs from the position before the command...
    await until(
      'a sync from the position before the command',
      () => fake.requests.some((r) => r.path === '/_matrix/client/v3/sync' && r.query.get('since') === before && r.at > reply.at),
      { timeoutMs: 30_000 },
    );
    // ...finds its reply in the room, and neither subscribes nor answers again.
    await idleAndWritten(restarted);
    expect(subscriptions()).toBe(subscribed);
    expect(puts()).toHaveLength(1);
    expect(fake.sent.filter((e) => inReplyTo(e) === question)).toHaveLength(1);
    expect(fake.requests.some((r) => r.method === 'GET' && r.path === `/_matrix/client/v3/rooms/${room}/messages` && r.at > reply.at)).toBe(true);

    // Still answers, and a clean stop writes the latest position: a start after it gets nothing again.
    const probe = fake.sendText(room, ALICE, '!topics');
    await fake.waitForSent((e) => inReplyTo(e) === probe, 20_000);
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
    expect(tokenOnDisk()).not.toBe(before);
    const sends = fake.sent.length;
    const third = startBot();
    await idleAndWritten(third);
    expect(fake.sent).toHaveLength(sends);
  }, 180_000);

  it('a question asked while the bot was down is answered after the restart', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB] });
    const first = startBot();
    await idleAndWritten(first);
    first.child.kill('SIGKILL');
    await first.exited;
    const asked = fake.sendText(room, ALICE, '!status fs');
    startBot();
    const reply = await fake.waitForSent((e) => inReplyTo(e) === asked, 30_000);
    expect(reply.content.body).toContain('Filesystems [concern]');
  }, 120_000);
});
