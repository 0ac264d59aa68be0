/**
 * Three replicas of the built bot on one PostgreSQL database with both chat platforms and DISCORD_PUBLIC_KEY:
 * signed interactions spread over the replicas' POST /interactions are each answered once (bad signature or
 * stale timestamp: 401, no answer); exactly one replica holds the Discord gateway and one the Matrix sync; when
 * a holder is SIGKILLed another takes its role within the stated bound (lease + one renewal period + connect),
 * and a Matrix question asked while nobody synced is answered once by the new holder, history not replayed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appKeys, interaction, postInteraction, type AppKeys } from '../fakes/discord/http-interactions.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/server.js';
import { startFakeMatrix, type FakeMatrix } from '../fakes/matrix/server.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startReplica, until, type Replica } from '../support/replicas.js';

const LEASE_SECONDS = 6;
/** The stated takeover bound: lease + one renewal period + connecting (generous for a loaded machine). */
const TAKEOVER_BOUND_MS = LEASE_SECONDS * 1000 + (LEASE_SECONDS * 1000) / 4 + 15_000;

let pgServer: TestPostgres;
let discord: FakeDiscord;
let matrix: FakeMatrix;
let dataDir: string;
let keys: AppKeys;
let dbUrl: string;
const replicas: Replica[] = [];

async function readyz(r: Replica): Promise<{ status: number; body: { status: string; roles?: string[] } }> {
  const res = await fetch(`${r.url()}/readyz`).catch(() => undefined); // a replica being killed drops the connection
  return res ? { status: res.status, body: (await res.json()) as { status: string; roles?: string[] } } : { status: 0, body: { status: 'gone' } };
}

const alive = () => replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);

async function holderOf(role: string): Promise<Replica | undefined> {
  for (const r of alive()) if ((await readyz(r)).body.roles?.includes(role)) return r;
  return undefined;
}

beforeAll(async () => {
  [pgServer, discord, matrix] = await Promise.all([startPostgres(), startFakeDiscord(), startFakeMatrix()]);
  dataDir = mkdtempSync(join(tmpdir(), 'ksb-roles-'));
  keys = appKeys();
  const url = await pgServer.createDatabase('roles');
  dbUrl = url;
  const env = {
    DATABASE_URL: url,
    REPLICA_LEASE_SECONDS: String(LEASE_SECONDS),
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.apiUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex,
    MATRIX_HOMESERVER_URL: matrix.url,
    MATRIX_ACCESS_TOKEN: matrix.accessToken,
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    RATE_LIMIT_PER_MINUTE: '1', // no refill while a test runs: the shared budget is counted exactly
  };
  for (let i = 0; i < 3; i++) replicas.push(startReplica(env));
  await until('three replicas listening', () => replicas.every((r) => r.url() !== ''), 60_000, replicas);
  await until('both roles held and connected', async () => Boolean((await holderOf('gateway')) && (await holderOf('matrix'))), 60_000, replicas);
}, 120_000);

afterAll(async () => {
  if (process.env.KSB_DUMP_LOGS) for (const [i, r] of replicas.entries()) writeFileSync(`/tmp/roles-${i}.log`, r.logs());
  for (const r of alive()) r.child.kill('SIGKILL');
  await Promise.allSettled([discord?.close(), matrix?.close()]);
  await pgServer?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('three replicas: interactions over HTTP, gateway and Matrix by lease', () => {
  it('every replica is ready (standbys too) and names its roles; each role is held by exactly one', async () => {
    const all = await Promise.all(replicas.map(readyz));
    for (const r of all) expect(r.status).toBe(200);
    const roles = all.flatMap((r) => r.body.roles ?? []).sort();
    expect(roles).toEqual(['gateway', 'matrix']);
    const metrics = await (await fetch(`${replicas[0]!.url()}/metrics`)).text();
    expect(metrics).toMatch(/kbot_role_held\{role="gateway"\} [01]/);
    expect(metrics).toContain('kbot_lease_renewals_total');
  });

  it('answers signed interactions on every replica, once each; refuses a bad signature or a stale timestamp with 401', async () => {
    const urls = replicas.map((r) => r.url());
    expect((await postInteraction(urls[0]!, interaction({ type: 1 }), keys)).json).toEqual({ type: 1 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        // Distinct users: the per-user rate limit (5 at once) is shared by the replicas and would answer "slow down".
        postInteraction(
          urls[i % 3]!,
          interaction({ type: 2, name: 'status', userId: `2000000000000000${String(i).padStart(2, '0')}`, options: [{ name: 'topic', type: 3, value: 'fs' }] }),
          keys,
        ),
      ),
    );
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.json.type).toBe(4);
      expect(a.json.data.embeds[0].title).toContain('Filesystems');
      expect(a.json.data.allowed_mentions).toEqual({ parse: [], replied_user: false });
    }
    const hidden = await postInteraction(
      urls[1]!,
      interaction({
        type: 2,
        name: 'status',
        options: [
          { name: 'topic', type: 3, value: 'rt' },
          { name: 'hide', type: 5, value: true },
        ],
      }),
      keys,
    );
    expect(hidden.json.data.flags).toBe(64);
    const auto = await postInteraction(
      urls[2]!,
      interaction({ type: 4, name: 'status', options: [{ name: 'topic', type: 3, value: 'filesys', focused: true }] }),
      keys,
    );
    expect(auto.json.type).toBe(8);
    expect(auto.json.data.choices[0]).toEqual({ name: expect.stringContaining('Filesystems'), value: 'filesystems' });
    // A subcommand with a manager permission: the member's permissions come with the interaction.
    const denied = await postInteraction(
      urls[0]!,
      interaction({
        type: 2,
        name: 'digest',
        options: [
          {
            name: 'subscribe',
            type: 1,
            options: [
              { name: 'topics', type: 3, value: 'fs' },
              { name: 'schedule', type: 3, value: 'daily' },
            ],
          },
        ],
      }),
      keys,
    );
    expect(denied.json.data.flags).toBe(64);
    expect(JSON.stringify(denied.json.data.embeds)).toMatch(/Manage Channels|manage/i);

    const callbacksBefore = discord.requests.length;
    const bad = await postInteraction(urls[0]!, interaction({ type: 2, name: 'status' }), keys, { tamper: true });
    expect(bad).toEqual({ status: 401, json: { error: 'invalid request signature' } });
    const stale = await postInteraction(urls[1]!, interaction({ type: 2, name: 'status' }), keys, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const other = await postInteraction(urls[2]!, interaction({ type: 2, name: 'status' }), appKeys());
    expect(other.status).toBe(401);
    expect(discord.requests.length).toBe(callbacksBefore); // nothing was answered another way either
  });

  it('one user has one rate-limit budget across the replicas (shared in PostgreSQL): 5 answers, one warning, then "slow down"', async () => {
    const urls = replicas.map((r) => r.url());
    const out = [];
    for (let i = 0; i < 8; i++) {
      const a = await postInteraction(
        urls[i % 3]!,
        interaction({ type: 2, name: 'status', userId: '300000000000000001', options: [{ name: 'topic', type: 3, value: 'fs' }] }),
        keys,
      );
      expect(a.status).toBe(200);
      out.push(String(a.json.data.embeds?.[0]?.title ?? a.json.data.content ?? JSON.stringify(a.json.data)));
    }
    expect(out.slice(0, 5).every((t) => t.includes('Filesystems'))).toBe(true);
    expect(out[5]).toMatch(/faster than I answer/);
    expect(out[6]).toMatch(/slow down/i);
    expect(out[7]).toMatch(/slow down/i);
    expect(out.slice(5).some((t) => t.includes('Filesystems'))).toBe(false);
    // Another user is not limited by the first one.
    const other = await postInteraction(
      urls[0]!,
      interaction({ type: 2, name: 'status', userId: '300000000000000002', options: [{ name: 'topic', type: 3, value: 'fs' }] }),
      keys,
    );
    expect(other.json.data.embeds[0].title).toContain('Filesystems');
  });

  it('SIGKILL of the Matrix holder: another replica syncs within the bound and answers a question asked meanwhile, once', async () => {
    const room = matrix.createRoom({ name: 'failover', members: ['@alice:fake.local'] });
    const before = matrix.sendText(room, '@alice:fake.local', '!status fs');
    await matrix.waitForSent((e) => e.roomId === room && e.content['m.relates_to']?.['m.in_reply_to']?.event_id === before, 30_000);
    const holder = (await holderOf('matrix'))!;
    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    await holder.exited;
    const during = matrix.sendText(room, '@alice:fake.local', '!status rt');
    await until('another replica to take the Matrix role', async () => Boolean(await holderOf('matrix')), TAKEOVER_BOUND_MS, replicas);
    const reply = await matrix.waitForSent((e) => e.roomId === room && e.content['m.relates_to']?.['m.in_reply_to']?.event_id === during, TAKEOVER_BOUND_MS);
    expect(reply.at).toBeDefined();
    expect(Date.now() - killedAt).toBeLessThan(TAKEOVER_BOUND_MS);
    // Answered once each: the question asked before the kill is not answered again (no replay).
    await new Promise((r) => setTimeout(r, 1000));
    const repliesTo = (id: string) => matrix.sent.filter((e) => e.content['m.relates_to']?.['m.in_reply_to']?.event_id === id).length;
    expect(repliesTo(before)).toBe(1);
    expect(repliesTo(during)).toBe(1);
  });

  it('SIGKILL of the gateway holder: another replica connects within the bound; mentions sent before, during and after the failover are each answered once', async () => {
    const mention = (text: string) => discord.sendUserMessage({ content: `<@${discord.botUser.id}> ${text}`, mentionsBot: true });
    const isReplyTo = (id: string) => (r: { method: string; path: string; body?: any }) =>
      r.method === 'POST' && r.path === `/channels/${discord.channelIds.general}/messages` && r.body?.message_reference?.message_id === id;
    const holder = (await holderOf('gateway'))!;
    const before = mention('what about ext4?');
    await discord.waitForRequest(isReplyTo(before.id), 30_000);
    // The holder writes the channels it saw every 2 s: wait until that happened before killing it.
    await until(
      'the holder to record the channel it saw',
      async () => {
        const c = new pg.Client({ connectionString: dbUrl });
        await c.connect();
        const r = await c.query<{ value: string }>("SELECT value FROM bot_state WHERE key = 'discord:seen'").finally(() => c.end());
        return (r.rows[0]?.value ?? '').includes(discord.channelIds.general);
      },
      10_000,
      replicas,
    );
    const readyBefore = discord.readyCount;
    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    await holder.exited;
    const during = mention('what about xfs?'); // no replica holds the gateway: Discord delivers it to nobody
    await until('another replica to take the gateway', async () => Boolean(await holderOf('gateway')), TAKEOVER_BOUND_MS, replicas);
    expect(discord.readyCount).toBeGreaterThan(readyBefore);
    expect(Date.now() - killedAt).toBeLessThan(TAKEOVER_BOUND_MS);
    await discord.waitForRequest(isReplyTo(during.id), 30_000);
    const after = mention('what about btrfs?');
    await discord.waitForRequest(isReplyTo(after.id), 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    for (const m of [before, during, after]) expect(discord.requests.filter(isReplyTo(m.id))).toHaveLength(1);
  });
});
