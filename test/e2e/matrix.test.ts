/**
 * End-to-end tests of the Matrix adapter: the real MatrixAdapter on the real matrix-bot-sdk MatrixClient,
 * over a real Bot (knowledge, commands, digest service), against the fake homeserver of test/fakes/matrix/.
 * Every assertion is on what the homeserver received (`fake.sent`, `fake.requests`, room state).
 *
 * Silence is proven without blind sleeps: after the events that must be ignored, a later `!topics` probe is
 * sent; once its reply has arrived, the adapter is stopped (stop() waits for every reply in flight) and the
 * only new event sent must be the probe's reply.
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { HTML_ALLOWLIST } from '../../src/adapters/matrix/render.js';
import { defineCommand } from '../../src/core/command.js';
import type { Citation } from '../../src/core/reply.js';
import type { FakeMatrix, RecordedRequest, SentEvent } from '../fakes/matrix/server.js';
import { inReplyTo, type MatrixBot } from '../support/matrix-bot.js';
import { matrixE2e } from '../support/matrix-e2e.js';
import { until } from '../support/poll.js';

const ALICE = '@alice:fake.local';
const BOB = '@bob:fake.local';
const ADMIN = '@admin:fake.local';
const EVE = '@eve:evil.example';
const WAIT = 10_000;

const m = matrixE2e({ tmpPrefix: 'matrix-e2e-', waitMs: WAIT });
const { tmpDir, makeBot, startBot, replyTo } = m;
let fake: FakeMatrix;
beforeEach(() => {
  fake = m.fake;
});

/** A group room: the bot plus two people, so it is not taken for a DM. */
function groupRoom(extra: { members?: string[]; encrypted?: boolean } = {}): string {
  return fake.createRoom({ members: extra.members ?? [ALICE, BOB], encrypted: extra.encrypted });
}

function sentIn(roomId: string): SentEvent[] {
  return fake.sent.filter((e) => e.roomId === roomId);
}

/** PUT /send requests into a room, in arrival order. */
function sendRequests(roomId: string): RecordedRequest[] {
  const prefix = `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/`;
  return fake.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(prefix));
}

/**
 * The bot's /sync long poll once it is held with nothing left to deliver: a poll that arrived after `after`
 * (performance.now(), e.g. the `at` of the bot's last sent event) and is still unanswered. Requests are
 * recorded and then answered or held in the same synchronous step, so an unanswered one is a held one.
 */
async function heldSync(after = 0): Promise<RecordedRequest> {
  for (;;) {
    const r = await fake.waitForRequest((x) => x.path === '/_matrix/client/v3/sync' && x.query.has('since') && x.status === undefined && x.at > after, WAIT);
    if (r.status === undefined) return r;
  }
}

function txnOf(r: RecordedRequest): string {
  return r.path.slice(r.path.lastIndexOf('/') + 1);
}

/**
 * Prove that since `mark` (an index into fake.sent) nothing was sent but the reply to a later probe:
 * send `!topics` into `roomId`, wait for its reply, stop the adapter (drains replies in flight), compare.
 */
async function expectOnlyProbeAnswered(b: MatrixBot, roomId: string, mark: number, sender = ALICE): Promise<void> {
  const probe = fake.sendText(roomId, sender, '!topics');
  await replyTo(probe);
  await b.adapter.stop();
  expect(fake.sent.slice(mark).map((e) => ({ room: e.roomId, inReplyTo: inReplyTo(e) }))).toEqual([{ room: roomId, inReplyTo: probe }]);
}

/** formatted_body uses only the allowlisted elements, without attributes. */
function expectSafeHtml(html: string): void {
  const tags = [...html.matchAll(/<\s*\/?\s*([a-zA-Z0-9-]+)([^>]*)>/g)];
  for (const [, name, attrs] of tags) {
    expect(HTML_ALLOWLIST as readonly string[]).toContain(name!.toLowerCase());
    expect(attrs!.trim()).toBe('');
  }
}

describe('Matrix adapter end to end (real matrix-bot-sdk, fake homeserver)', () => {
  it('answers !status fs with an m.notice rich reply: HTML, empty m.mentions, no fallback', async () => {
    const room = groupRoom();
    await startBot();
    const asked = fake.sendText(room, ALICE, '!status fs');
    const r = await replyTo(asked);

    expect(r.type).toBe('m.room.message');
    expect(r.content.msgtype).toBe('m.notice');
    expect(r.content.body).toContain('Filesystems [concern]');
    expect(r.content.format).toBe('org.matrix.custom.html');
    expect(r.content.formatted_body).toContain('<strong>Filesystems</strong> [concern]');
    expect(r.content.formatted_body).toContain('<li>');
    expectSafeHtml(r.content.formatted_body);
    expect(r.content['m.mentions']).toEqual({});
    expect(r.content['m.relates_to']).toEqual({ 'm.in_reply_to': { event_id: asked } });
    // No rich-reply fallback (removed from the spec in v1.13).
    expect(r.content.formatted_body).not.toMatch(/mx-reply/i);
    expect(r.content.body).not.toMatch(/^>/m);
    expect(r.content.body).not.toMatch(/<\/?[a-z]+>/i);
    expect(sentIn(room)).toHaveLength(1);
    // As stored by the homeserver: sent by the bot, in the room.
    expect(fake.timeline(room).find((e) => e.event_id === r.eventId)).toMatchObject({ sender: fake.botUserId, type: 'm.room.message' });
  });

  it('answers when addressed: m.mentions with the bot, a pill, or the display name at the start', async () => {
    const room = groupRoom();
    await startBot();

    const byMentions = fake.sendText(room, ALICE, 'what about btrfs?', { mentions: { user_ids: [fake.botUserId] } });
    const r1 = await replyTo(byMentions);
    expect(r1.content.body).toContain('btrfs');
    expect(r1.content.body).toContain('Filesystems');

    const byPill = fake.sendText(room, BOB, 'kbot: what about btrfs?', {
      formatted_body: '<a href="https://matrix.to/#/@kbot:fake.local">kbot</a>: what about btrfs?',
    });
    const r2 = await replyTo(byPill);
    expect(r2.content.body).toContain('btrfs');

    // The pill alone (the visible name is a room nickname, not the display name).
    const byPillOnly = fake.sendText(room, BOB, 'Kernel Bot: what about btrfs?', {
      formatted_body: '<a href="https://matrix.to/#/@kbot:fake.local">Kernel Bot</a>: what about btrfs?',
    });
    const r3 = await replyTo(byPillOnly);
    expect(r3.content.body).toContain('btrfs');

    const byName = fake.sendText(room, ALICE, 'kbot: what about xfs?');
    const r4 = await replyTo(byName);
    expect(r4.content.body).toContain('XFS');

    for (const r of [r1, r2, r3, r4]) {
      expect(r.content.msgtype).toBe('m.notice');
      expect(r.content['m.mentions']).toEqual({});
    }
    expect(sentIn(room)).toHaveLength(4);
  });

  it('stays silent when m.mentions leaves the bot out, and on plain chat in a group room', async () => {
    const room = groupRoom();
    const b = await startBot();
    const mark = fake.sent.length;
    fake.sendText(room, ALICE, 'kbot: what about btrfs?', { mentions: { user_ids: [BOB] } });
    fake.sendText(room, ALICE, 'kbot: what about xfs?', { mentions: {} });
    fake.sendText(room, BOB, 'is ext4 any good?');
    await expectOnlyProbeAnswered(b, room, mark);
  });

  it('answers plain text in a DM', async () => {
    const dm = fake.createRoom({ members: [ALICE], direct: true });
    await startBot();
    const q = fake.sendText(dm, ALICE, 'is ext4 any good?');
    const r = await replyTo(q);
    expect(r.roomId).toBe(dm);
    expect(r.content.body).toContain('ext4');
    expect(r.content.msgtype).toBe('m.notice');
  });

  it('ignores its own events, notices from others and edits', async () => {
    const room = groupRoom();
    // The original of the edit, from before the start (not replayed).
    const original = fake.sendText(room, ALICE, '!staus fs', { ts: Date.now() - 3_600_000 });
    const b = await startBot();
    const mark = fake.sent.length;
    fake.sendText(room, fake.botUserId, '!status fs');
    fake.sendEvent(room, { sender: BOB, content: { msgtype: 'm.notice', body: '!status fs' } });
    fake.sendEvent(room, {
      sender: ALICE,
      content: {
        msgtype: 'm.text',
        body: '* !status fs',
        'm.new_content': { msgtype: 'm.text', body: '!status fs' },
        'm.relates_to': { rel_type: 'm.replace', event_id: original },
      },
    });
    // An edit without m.new_content is still an edit.
    fake.sendText(room, ALICE, '!status mm', { relatesTo: { rel_type: 'm.replace', event_id: original } });
    await expectOnlyProbeAnswered(b, room, mark);
  });

  it('escapes user text in HTML and never mentions anyone (no @room)', async () => {
    const dm = fake.createRoom({ members: [ALICE], direct: true });
    await startBot();
    const nasty = '<b>bold</b> <script>x</script> @room';

    const q = fake.sendText(dm, ALICE, `${nasty} what about btrfs?`);
    const r1 = await replyTo(q);
    expect(r1.content.body).toContain('btrfs');

    // A no-match echoes the user's words: the place where escaping matters.
    const s = fake.sendText(dm, ALICE, `!status ${nasty}`);
    const r2 = await replyTo(s);
    expect(r2.content.formatted_body).toContain('&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;x&lt;/script&gt; @room');
    expect(r2.content.body).toContain(nasty); // plain text, not HTML: shown literally, not double-escaped
    expect(r2.content.body).not.toContain('&lt;');

    for (const r of [r1, r2]) {
      expect(r.content.formatted_body).not.toMatch(/<script/i);
      expect(r.content.formatted_body).not.toMatch(/<b>/i);
      expectSafeHtml(r.content.formatted_body);
      expect(r.content['m.mentions']).toEqual({});
      expect(r.content.msgtype).toBe('m.notice');
    }
  });

  it('joins invites from its own server, refuses others, survives a failed join', async () => {
    const b = await startBot();

    const ok = fake.invite(ALICE);
    await fake.waitForRequest((r) => r.method === 'POST' && r.path.endsWith(`/join/${ok}`) && r.status === 200, WAIT);
    expect(fake.isJoined(ok)).toBe(true);

    const evil = fake.invite(EVE);
    await fake.waitForRequest((r) => r.method === 'POST' && r.path === `/_matrix/client/v3/rooms/${evil}/leave` && r.status === 200, WAIT);
    expect(fake.isJoined(evil)).toBe(false);
    expect(fake.requests.some((r) => r.method === 'POST' && r.path.includes(evil) && /\/join(\/|$)/.test(r.path))).toBe(false);

    const failing = `!joinfail:${fake.serverName}`;
    fake.failJoins(failing, 403);
    fake.invite(ALICE, { roomId: failing });
    await fake.waitForRequest((r) => r.method === 'POST' && r.path.endsWith(`/join/${failing}`) && r.status === 403, WAIT);
    expect(fake.isJoined(failing)).toBe(false);

    // Still alive: answers in another room.
    const room = groupRoom();
    const q = fake.sendText(room, ALICE, '!topics');
    // The bot is joined to `room` from its creation; the sync loop picks the message up.
    const r = await replyTo(q);
    expect(r.roomId).toBe(room);
    expect(b.adapterLogs.some((l) => l.msg === 'could not join room')).toBe(true);
  });

  it('does not replay history on a fresh start', async () => {
    const room = groupRoom();
    const dm = fake.createRoom({ members: [BOB], direct: true });
    fake.sendText(room, ALICE, '!status fs', { ts: Date.now() - 3_600_000 });
    fake.sendText(room, ALICE, '!status rt', { ts: Date.now() - 2_000 });
    fake.sendText(room, ALICE, '!status mm');
    fake.sendText(dm, BOB, 'is ext4 any good?', { ts: Date.now() - 3_600_000 });
    fake.sendText(dm, BOB, 'what about btrfs?');
    const b = await startBot();
    await expectOnlyProbeAnswered(b, room, 0);
  });

  it('after a restart, answers what was asked during a short outage', async () => {
    const dataDir = tmpDir();
    const room = groupRoom();
    const a = await startBot({ dataDir });
    const before = fake.sendText(room, ALICE, '!about');
    const answeredBefore = await replyTo(before);
    const held = await heldSync(answeredBefore.at);
    await a.close();
    // The SDK cannot abort its long poll: the stopped adapter's /sync is still held and is now answered
    // with the question. That must not move the saved sync position past the question.
    const q = fake.sendText(room, ALICE, '!status fs', { ts: Date.now() - 60_000 });
    await fake.waitForRequest((r) => r === held && r.status === 200, WAIT);
    const b = await startBot({ dataDir, graceMs: 5 * 60_000 });
    const r = await replyTo(q);
    expect(r.content.body).toContain('Filesystems [concern]');
    expect(b.adapterLogs.find((l) => l.msg === 'connected to Matrix')).toMatchObject({ resumed: true });

    await b.adapter.stop();
    // Exactly one reply each; what was answered before the restart is not answered again.
    expect(sentIn(room).map(inReplyTo)).toEqual([before, q]);
    const beforeTxn = txnOf(sendRequests(room)[0]!);
    expect(sendRequests(room).filter((x) => txnOf(x) === beforeTxn)).toHaveLength(1);
  });

  it('after a restart, does not answer what is older than the grace period', async () => {
    const dataDir = tmpDir();
    const room = groupRoom();
    const a = await startBot({ dataDir });
    const held = await heldSync();
    await a.close();

    fake.sendText(room, ALICE, '!status fs', { ts: Date.now() - 10 * 60_000 });
    await fake.waitForRequest((r) => r === held && r.status === 200, WAIT);
    const mark = fake.sent.length;
    const b = await startBot({ dataDir, graceMs: 5 * 60_000 });
    await expectOnlyProbeAnswered(b, room, mark);
  });

  it('retries a send after a 500, with the same transaction id', async () => {
    const room = groupRoom();
    await startBot();
    fake.failSends(room, 500, 1);
    const q = fake.sendText(room, ALICE, '!topics');
    const r = await replyTo(q);
    expect(sentIn(room)).toHaveLength(1);
    const puts = sendRequests(room);
    expect(puts.map((p) => p.status)).toEqual([500, 200]);
    expect(puts.map(txnOf)).toEqual([r.txnId, r.txnId]);
  });

  it('waits retry_after_ms after a 429, then sends once with the same transaction id', async () => {
    const room = groupRoom();
    await startBot();
    fake.failSends(room, 429, 1, 100);
    const q = fake.sendText(room, ALICE, '!topics');
    const r = await replyTo(q);
    expect(sentIn(room)).toHaveLength(1);
    const puts = sendRequests(room);
    expect(puts.map((p) => p.status)).toEqual([429, 200]);
    expect(puts.map(txnOf)).toEqual([r.txnId, r.txnId]);
    // Lower bound only (timer granularity allows a hair under 100).
    expect(puts[1]!.at - puts[0]!.at).toBeGreaterThanOrEqual(95);
  });

  it('cuts a reply that would exceed the event size limit, with a pointer to the rest', async () => {
    const points: Citation[] = Array.from({ length: 3000 }, (_, i) => ({
      text: `Point number ${i}: ${'the quick brown fox jumps over the lazy kernel developer '.repeat(3)}`,
      page: 1 + (i % 18),
      topicId: 'huge',
      topicTitle: 'Huge',
    }));
    const huge = defineCommand({
      name: 'huge',
      description: 'A reply far over the Matrix event size limit',
      examples: ['huge'],
      run: () => ({ kind: 'status', title: 'Huge', verdict: 'mixed', summary: 'Very long.', points, more: 'status filesystems' }),
    });
    const room = groupRoom();
    await startBot({ extra: [huge] });
    const q = fake.sendText(room, ALICE, '!huge');
    const r = await replyTo(q);

    const stored = fake.timeline(room).find((e) => e.event_id === r.eventId);
    expect(Buffer.byteLength(JSON.stringify(stored))).toBeLessThan(65_536);
    expect(Buffer.byteLength(JSON.stringify(r.content))).toBeLessThan(65_536);
    const lines = r.content.body.split('\n') as string[];
    const m = /^… (\d+) more: see !status filesystems$/.exec(lines[lines.length - 1]!);
    expect(m).not.toBeNull();
    const kept = lines.filter((l) => l.startsWith('• ')).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept + Number(m![1])).toBe(3000);
    expect((r.content.formatted_body.match(/<li>/g) ?? []).length).toBe(kept);
    expect(r.content.formatted_body).toContain(`… ${m![1]} more: see !status filesystems`);
  });

  it('gates manager commands by room power level', async () => {
    const room = groupRoom({ members: [ALICE, ADMIN] });
    await startBot();
    const cmd = '!digest subscribe topics:fs schedule:"0 9 * * 1" mode:rotate';

    const fromAlice = fake.sendText(room, ALICE, cmd);
    const refused = await replyTo(fromAlice);
    expect(refused.content.body).toContain('Only people who manage');
    expect(refused.content.body).not.toContain('ID: ');

    const fromAdmin = fake.sendText(room, ADMIN, cmd);
    const accepted = await replyTo(fromAdmin);
    expect(accepted.content.body).toContain('ID: ');

    // The power levels were read from the room.
    expect(fake.requests.some((r) => r.method === 'GET' && r.path.startsWith(`/_matrix/client/v3/rooms/${room}/state/m.room.power_levels`))).toBe(true);
  });

  it("gates manager commands by the room's own state_default (here 0: every member manages)", async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], powerLevels: { users_default: 0, events_default: 0, state_default: 0 } });
    await startBot();
    // /reload is bot-wide (BOT_ADMINS); a room manager command shows the room's own gate.
    const accepted = await replyTo(fake.sendText(room, ALICE, '!digest subscribe topics:fs schedule:"0 9 * * 1" mode:rotate'));
    expect(accepted.content.body).toContain('ID: ');
  });

  it('MATRIX_E2EE=false, in an encrypted room it was invited to: joins and says once that it cannot read encrypted messages', async () => {
    const b = await startBot({ e2ee: false });
    const room = fake.invite(ALICE, { encrypted: true });
    const notice = await fake.waitForSent((e) => e.roomId === room && /encrypted/i.test(e.content?.body ?? ''), WAIT);
    expect(fake.isJoined(room)).toBe(true);
    expect(notice.content.msgtype).toBe('m.notice');
    expect(notice.content.body).toMatch(/cannot read encrypted messages/);
    expect(notice.content['m.relates_to']).toBeUndefined();
    expect(notice.content['m.mentions']).toEqual({});

    const mark = fake.sent.length;
    fake.sendEvent(room, {
      sender: ALICE,
      type: 'm.room.encrypted',
      content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AwgAEnAKfake', sender_key: 'fakekey', session_id: 'fakesession', device_id: 'ALICEDEVICE' },
    });
    await expectOnlyProbeAnswered(b, room, mark);
    // Not even a deduplicated second attempt: one PUT carried the notice.
    expect(sendRequests(room).filter((r) => /encrypted/i.test(r.body?.body ?? ''))).toHaveLength(1);
  });

  it('MATRIX_E2EE=false, in an encrypted room it is already in: one notice for the first encrypted message only', async () => {
    const room = groupRoom({ encrypted: true });
    const b = await startBot({ e2ee: false });
    const enc = (): string =>
      fake.sendEvent(room, {
        sender: ALICE,
        type: 'm.room.encrypted',
        content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AwgAEnAKfake', sender_key: 'k', session_id: 's', device_id: 'D' },
      });
    enc();
    const notice = await fake.waitForSent((e) => e.roomId === room && /cannot read encrypted/.test(e.content?.body ?? ''), WAIT);
    expect(notice.content.msgtype).toBe('m.notice');
    const mark = fake.sent.length;
    enc();
    await expectOnlyProbeAnswered(b, room, mark);
    expect(sendRequests(room).filter((r) => /encrypted/i.test(r.body?.body ?? ''))).toHaveLength(1);
  });

  it('refuses to start with a wrong access token, naming MATRIX_ACCESS_TOKEN', async () => {
    const b = await makeBot({ accessToken: 'syt_not_the_token' });
    const err = await b.adapter.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/MATRIX_ACCESS_TOKEN/);
    expect(err!.message).not.toContain('syt_not_the_token');
    expect(fake.sent).toHaveLength(0);
  });
});

describe('bot-wide commands (/reload) need BOT_ADMINS, not room power', () => {
  it('a room admin is refused; a user listed in BOT_ADMINS may reload; a failed reload keeps file paths out of the room', async () => {
    const knowledgeDir = tmpDir();
    cpSync('knowledge', knowledgeDir, { recursive: true });
    const room = groupRoom({ members: [ALICE, ADMIN] });
    await startBot({ admins: [ALICE], knowledgeDir });
    const fromRoomAdmin = await replyTo(fake.sendText(room, ADMIN, '!reload'));
    expect(fromRoomAdmin.content.body).toContain("Only the bot's administrators may use !reload");
    const fromBotAdmin = await replyTo(fake.sendText(room, ALICE, '!reload'));
    expect(fromBotAdmin.content.body).toContain('Knowledge reloaded');

    writeFileSync(join(knowledgeDir, 'talk.yaml'), 'topics: [');
    const failed = await replyTo(fake.sendText(room, ALICE, '!reload'));
    expect(failed.content.body).toContain('The reason is in the bot');
    expect(JSON.stringify(failed.content)).not.toContain(knowledgeDir);
    expect(JSON.stringify(failed.content)).not.toContain('talk.yaml');
  });
});

describe('Matrix faults: retries whatever the body, outages visible, a homeserver down at start-up', () => {
  it('retries a send after a plain-text 502, an HTML 503 and a dropped connection, with the same transaction id', async () => {
    const room = groupRoom();
    const b = await startBot();
    const q1 = fake.sendText(room, ALICE, '!topics');
    fake.failSends(room, 502, 1, 0, { contentType: 'text/plain', body: 'Bad Gateway' });
    const r1 = await replyTo(q1);
    fake.failSends(room, 503, 1, 0, { contentType: 'text/html', body: '<html><body><h1>503 Service Unavailable</h1></body></html>' });
    const r2 = await replyTo(fake.sendText(room, ALICE, '!topics'));
    fake.failSends(room, 0, 1);
    const r3 = await replyTo(fake.sendText(room, ALICE, '!topics'));
    expect(sentIn(room)).toHaveLength(3);
    const puts = sendRequests(room);
    expect(puts.map((p) => p.status)).toEqual([502, 200, 503, 200, 0, 200]);
    expect(puts.map(txnOf)).toEqual([r1.txnId, r1.txnId, r2.txnId, r2.txnId, r3.txnId, r3.txnId]);
    expect(b.adapterLogs.filter((l) => /Non-error/.test(JSON.stringify(l)))).toEqual([]);
  });

  it('a send refused with a 4xx other than 429 is not retried, whatever the body', async () => {
    const room = groupRoom();
    const b = await startBot();
    fake.failSends(room, 400, 1, 0, { contentType: 'text/plain', body: 'Bad Request' });
    const q = fake.sendText(room, ALICE, '!topics');
    await fake.waitForRequest((r) => r.method === 'PUT' && r.path.includes(`/rooms/${room}/send/`) && r.status === 400, WAIT);
    const probe = fake.sendText(room, ALICE, '!topics');
    await replyTo(probe);
    expect(sendRequests(room).map((p) => p.status)).toEqual([400, 200]);
    expect(q).toBeTruthy();
    // The lost reply is logged once (and only that): the afterEach check is for unexpected listener failures.
    const failed = b.adapterLogs.filter((l) => l.msg === 'reply not sent');
    expect(failed).toHaveLength(1);
    b.adapterLogs.splice(b.adapterLogs.indexOf(failed[0]!), 1);
  });

  it('status follows the sync loop: disconnected while the homeserver refuses connections, connected once it answers again', async () => {
    const b = await startBot();
    expect(b.adapter.status()).toEqual({ connected: true });
    const outage = fake.restart({ downMs: 2500, graceful: false });
    await until('disconnected', () => !b.adapter.status().connected, { timeoutMs: 10_000 });
    expect(b.adapter.status().reason).toMatch(/sync failing/);
    await outage;
    // The SDK backs off 5–15 s after a failed /sync: connected again within that, plus one sync.
    await until('connected again', () => b.adapter.status().connected, { timeoutMs: 25_000 });
    const room = groupRoom();
    await replyTo(fake.sendText(room, ALICE, '!topics'));
  }, 45_000);

  it('starts while the homeserver is down: start() returns, the reason is reported, it connects in the background and answers', async () => {
    const outage = fake.restart({ downMs: 1500, graceful: false });
    const b = await makeBot({ connectBackoff: { firstMs: 200, maxMs: 400 } });
    await b.adapter.start();
    expect(b.adapter.status().connected).toBe(false);
    expect(b.adapter.status().reason).toMatch(/homeserver unreachable \(ECONNREFUSED/);
    await outage;
    await until('connected', () => b.adapter.status().connected, { timeoutMs: 10_000 });
    const room = groupRoom();
    await replyTo(fake.sendText(room, ALICE, '!topics'));
  }, 30_000);

  it('a token rejected when the homeserver comes back is fatal (onFatal, naming MATRIX_ACCESS_TOKEN)', async () => {
    const outage = fake.restart({ downMs: 800, graceful: false });
    const b = await makeBot({ accessToken: 'syt_not_the_token_at_all', connectBackoff: { firstMs: 200, maxMs: 400 } });
    let fatal: Error | undefined;
    b.adapter.onFatal = (e) => (fatal = e);
    await b.adapter.start();
    await outage;
    await until('onFatal', () => fatal !== undefined, { timeoutMs: 10_000 });
    expect(fatal!.name).toBe('StartupError');
    expect(fatal!.message).toMatch(/MATRIX_ACCESS_TOKEN was rejected/);
  }, 30_000);
});
