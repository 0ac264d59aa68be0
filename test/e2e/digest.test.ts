/**
 * Digests end to end, as production wires them (src/runtime.ts startBot: both chat adapters, the digest
 * service on a real SQLite file, the scheduler): a subscription made by command on Discord (slash command,
 * real discord.js Client) and on Matrix (room message, real matrix-bot-sdk MatrixClient) is posted as an
 * ordinary message into the right channel or room at its slot; a non-manager's subscribe is refused and
 * nothing is ever posted for it; unsubscribe stops the posts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startBot, type Running } from '../../src/runtime.js';
import { startFakeDiscord, type FakeDiscord, type RecordedRequest } from '../fakes/discord/server.js';
import { defaultPowerLevels, startFakeMatrix, type FakeMatrix, type SentEvent } from '../fakes/matrix/server.js';
import { captureLogger } from '../support/bot.js';

const ADMIN = '@admin:fake.local';
const ALICE = '@alice:fake.local';
const EVERY_5_SECONDS = '*/5 * * * * *';
const WAIT = 15_000;

let discord: FakeDiscord;
let matrix: FakeMatrix;
let running: Running;
let dataDir: string;
const log = captureLogger();

beforeAll(async () => {
  discord = await startFakeDiscord();
  matrix = await startFakeMatrix();
  dataDir = mkdtempSync(join(tmpdir(), 'ksb-digest-e2e-'));
  const config = loadConfig({
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.apiUrl,
    MATRIX_HOMESERVER_URL: matrix.url,
    MATRIX_ACCESS_TOKEN: matrix.accessToken,
    DATA_DIR: dataDir,
    KNOWLEDGE_WATCH: 'false',
    DIGEST_MIN_INTERVAL_SECONDS: '1',
  });
  running = await startBot(config, log.logger);
}, 30_000);

afterAll(async () => {
  await running?.stop();
  await Promise.allSettled([discord?.close(), matrix?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

const sub = (name: string, options: { name: string; value: string }[] = []) => ({ name, type: 1, options: options.map((o) => ({ ...o, type: 3 })) });
const subscribeOptions = (topics: string, mode: string) => [
  { name: 'topics', value: topics },
  { name: 'schedule', value: EVERY_5_SECONDS },
  { name: 'mode', value: mode },
];
const embed = (r: RecordedRequest) => r.body.data.embeds[0];
const idIn = (text: string) => /ID: `?([a-z0-9]{8})`?/.exec(text)?.[1];
const slotOf = (key: string) => parseInt(key.split('-').pop()!, 36);
const digestPost = (channelId: string, id: string) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/channels/${channelId}/messages` && String(r.body?.nonce ?? '').startsWith(`${id}-`);

describe('digest subscriptions made by command are posted at their slot', () => {
  it('Discord: /digest subscribe by a Manage Channels member posts into that channel at each slot; a non-manager is refused', async () => {
    const general = discord.channelIds.general;
    const other = discord.channelIds.other;

    const refused = await discord.sendInteraction({
      commandName: 'digest',
      options: [sub('subscribe', subscribeOptions('mm', 'rotate'))],
      channelId: other,
      memberPermissions: '0',
    }).callback;
    expect(embed(refused).description).toMatch(/Only people who manage/);
    expect(refused.body.data.flags & 64).toBe(64);

    const subscribedAt = Date.now();
    const accepted = await discord.sendInteraction({
      commandName: 'digest',
      options: [sub('subscribe', subscribeOptions('fs', 'rotate'))],
      channelId: general,
      memberPermissions: '16',
    }).callback;
    const id = idIn(embed(accepted).description);
    expect(id, embed(accepted).description).toBeDefined();

    const post = await discord.waitForRequest(digestPost(general, id!), WAIT);
    const postedAt = Date.now();
    expect(post.status).toBe(200);
    // An ordinary channel message (not an interaction follow-up), idempotent, pinging nobody.
    expect(post.body.enforce_nonce).toBe(true);
    expect(post.body.allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(post.body.embeds[0].title).toMatch(/^Digest: Filesystems\b/);
    // At its slot: a 5-second boundary after the subscription, not before it.
    const slot = slotOf(post.body.nonce);
    expect(slot % 5000).toBe(0);
    expect(slot).toBeGreaterThan(subscribedAt);
    expect(postedAt).toBeGreaterThanOrEqual(slot);
    expect(discord.channelMessages(general).some((m) => m.nonce === post.body.nonce)).toBe(true);

    // Nothing was ever set up for the refused member's channel.
    expect(discord.requests.some((r) => r.method === 'POST' && r.path === `/channels/${other}/messages`)).toBe(false);

    // Unsubscribe (by a manager) stops the posts: no post at the next slots.
    const gone = await discord.sendInteraction({
      commandName: 'digest',
      options: [sub('unsubscribe', [{ name: 'id', value: id! }])],
      channelId: general,
      memberPermissions: '16',
    }).callback;
    expect(embed(gone).description).toContain(id!);
    const postsNow = discord.requests.filter(digestPost(general, id!)).length;
    await new Promise((r) => setTimeout(r, 6000));
    expect(discord.requests.filter(digestPost(general, id!)).length).toBe(postsNow);
  }, 40_000);

  it('Matrix: !digest subscribe by a room moderator posts into that room at its slot; a member without the power level is refused', async () => {
    const room = matrix.createRoom({ members: [ALICE, ADMIN] });
    const aliceOnly = matrix.createRoom({ members: [ALICE, '@bob:fake.local'] });
    await matrix.waitForSync(1, WAIT);
    const inReplyTo = (e: SentEvent) => e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id;

    const attempt = matrix.sendText(aliceOnly, ALICE, `!digest subscribe topics:mm schedule:"${EVERY_5_SECONDS}" mode:board`);
    const refused = await matrix.waitForSent((e) => inReplyTo(e) === attempt, WAIT);
    expect(refused.content.body).toContain('Only people who manage');

    const subscribedAt = Date.now();
    const ask = matrix.sendText(room, ADMIN, `!digest subscribe topics:mm,fs schedule:"${EVERY_5_SECONDS}" mode:board`);
    const accepted = await matrix.waitForSent((e) => inReplyTo(e) === ask, WAIT);
    const id = idIn(accepted.content.body);
    expect(id, accepted.content.body).toBeDefined();

    const post = await matrix.waitForSent((e) => e.roomId === room && e.txnId.startsWith(`digest-${id}-`), WAIT);
    const postedAt = Date.now();
    expect(post.content.msgtype).toBe('m.notice');
    expect(post.content['m.relates_to']).toBeUndefined(); // an ordinary room message, not a reply
    expect(post.content['m.mentions']).toEqual({});
    expect(post.content.body).toContain('Digest: status board');
    expect(post.content.body).toMatch(/Memory management/);
    expect(post.content.body).toMatch(/Filesystems/);
    const slot = slotOf(post.txnId);
    expect(slot % 5000).toBe(0);
    expect(slot).toBeGreaterThan(subscribedAt);
    expect(postedAt).toBeGreaterThanOrEqual(slot);

    // Nothing is posted into the room of the refused subscribe.
    expect(matrix.sent.some((e) => e.roomId === aliceOnly && e.txnId.startsWith('digest-'))).toBe(false);
  }, 40_000);

  it('a subscribe in a direct conversation is refused on both platforms (digests are for channels and rooms), and nothing is stored', async () => {
    const dm = await discord.sendInteraction({ commandName: 'digest', options: [sub('subscribe', subscribeOptions('fs', 'rotate'))], dm: true }).callback;
    expect(embed(dm).description).toMatch(/not in a direct conversation/);
    expect(dm.body.data.flags & 64).toBe(64);

    const direct = matrix.createRoom({
      members: [ALICE],
      direct: true,
      powerLevels: { ...defaultPowerLevels(ALICE), users: { [ALICE]: 100, [matrix.botUserId]: 100 } },
    }); // Alice may manage her DM
    await matrix.waitForSync(1, WAIT);
    const ask = matrix.sendText(direct, ALICE, `!digest subscribe topics:fs schedule:"${EVERY_5_SECONDS}" mode:rotate`);
    const refused = await matrix.waitForSent((e) => e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id === ask, WAIT);
    expect(refused.content.body).toMatch(/not in a direct conversation/);

    expect(
      (await running.app.digests!.store.listEnabled()).filter((s) => s.channelId === direct || s.channelId === discord.dmChannelId(discord.users.default.id)),
    ).toEqual([]);
  }, 40_000);
});
