/**
 * End-to-end encryption on Matrix: the real MatrixAdapter on the real matrix-bot-sdk CryptoClient (over our
 * shim on the wasm binding), against the fake homeserver, with test users that are real devices (an
 * OlmMachine each, test/support/matrix-device.ts). Assertions are on what the homeserver received and on
 * what the test user's device decrypts.
 */
import { createRequire } from 'node:module';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startBot as startApp } from '../../src/runtime.js';
import { captureLogger } from '../support/bot.js';
import { cleanEnv, runNode } from '../support/spawn.js';
import type { FakeMatrix, SentEvent } from '../fakes/matrix/server.js';
import { inReplyTo } from '../support/matrix-bot.js';
import { TestDevice } from '../support/matrix-device.js';
import { matrixE2e } from '../support/matrix-e2e.js';
import { until } from '../support/poll.js';

const require = createRequire(import.meta.url);
const ALICE = '@alice:fake.local';
const BOB = '@bob:fake.local';
const CAROL = '@carol:fake.local';
const ADMIN = '@admin:fake.local';
const WAIT = 20_000;

const m = matrixE2e({ tmpPrefix: 'matrix-e2ee-', waitMs: WAIT });
const { tmpDir, startBot, device } = m;
let fake: FakeMatrix;
beforeEach(() => {
  fake = m.fake;
});

/** The bot's encrypted reply to `eventId`, decrypted by `d`: waits for any new encrypted event from the bot in the room that decrypts to a reply to it. */
async function decryptedReply(d: TestDevice, roomId: string, eventId: string): Promise<{ sent: SentEvent; content: any }> {
  const seen = new Set<string>();
  for (;;) {
    const sent = await fake.waitForSent((e) => e.roomId === roomId && e.type === 'm.room.encrypted' && !seen.has(e.eventId), WAIT);
    seen.add(sent.eventId);
    const clear = await d.decrypt(roomId, sent.eventId);
    if (inReplyTo({ ...sent, content: clear.content }) === eventId) return { sent, content: clear.content };
  }
}

/** No event the bot sent into the room carries a plaintext message. */
function expectOnlyCiphertext(roomId: string): void {
  const mine = fake.sent.filter((e) => e.roomId === roomId);
  expect(mine.length).toBeGreaterThan(0);
  for (const e of mine) {
    expect(e.type).toBe('m.room.encrypted');
    expect(Object.keys(e.content).sort()).toEqual(expect.arrayContaining(['algorithm', 'ciphertext', 'session_id']));
    expect(e.content.body).toBeUndefined();
    expect(e.content.formatted_body).toBeUndefined();
  }
}

describe('Matrix end-to-end encryption (real SDK crypto, test users with real devices)', () => {
  it('answers a question by mention in an encrypted room with an encrypted reply that decrypts to the quote and its page', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], encrypted: true });
    const alice = await device(ALICE);
    await startBot();
    const asked = await alice.sendText(room, `${fake.botUserId} what does the talk say about btrfs?`, { mention: fake.botUserId });
    const { content } = await decryptedReply(alice, room, asked);
    expect(content.msgtype).toBe('m.notice');
    expect(content.body).toContain('I am hoping that btrfs will save us');
    expect(content.body).toMatch(/Filesystems, p\. 11/);
    expect(content['m.mentions']).toEqual({});
    expectOnlyCiphertext(room);
  });

  it('answers in an encrypted DM (no mention needed): !status fs and a question, both encrypted', async () => {
    const room = fake.createRoom({ members: [ALICE], direct: true, encrypted: true });
    const alice = await device(ALICE);
    await startBot();
    const status = await alice.sendText(room, '!status fs');
    const s = await decryptedReply(alice, room, status);
    expect(s.content.body).toContain('Filesystems [concern]');
    expect(s.content.body).toMatch(/“I think we have problems with filesystems” \(p\. 10\)/);
    const question = await alice.sendText(room, 'who maintains x86?');
    const q = await decryptedReply(alice, room, question);
    expect(q.content.body).toMatch(/x86/i);
    expect(q.content.body).toMatch(/p\. \d+/);
    expectOnlyCiphertext(room);
  });

  it('digests subscribed by command in an encrypted room are posted encrypted at their slot (production wiring)', async () => {
    const room = fake.createRoom({ members: [ALICE, ADMIN], encrypted: true });
    const admin = await device(ADMIN);
    const dataDir = tmpDir();
    const log = captureLogger();
    const config = loadConfig({
      MATRIX_HOMESERVER_URL: fake.url,
      MATRIX_ACCESS_TOKEN: fake.accessToken,
      DATA_DIR: dataDir,
      KNOWLEDGE_WATCH: 'false',
      DIGEST_MIN_INTERVAL_SECONDS: '1',
    });
    const app = await startApp(config, log.logger);
    try {
      await fake.waitForSync(1, WAIT);
      const ask = await admin.sendText(room, '!digest subscribe topics:fs schedule:"*/2 * * * * *" mode:board');
      const accepted = await decryptedReply(admin, room, ask);
      const id = /ID: `?([a-z0-9]{8})`?/.exec(accepted.content.body)?.[1];
      expect(id, accepted.content.body).toBeDefined();
      const post = await fake.waitForSent((e) => e.roomId === room && e.txnId.startsWith(`digest-${id}-`), WAIT);
      expect(post.type).toBe('m.room.encrypted');
      const clear = await admin.decrypt(room, post.eventId);
      expect(clear.content.body).toContain('Digest: status board');
      expect(clear.content.body).toContain('Filesystems');
      expectOnlyCiphertext(room);
    } finally {
      await app.stop();
    }
  }, 40_000);

  it('keeps its device across a restart on the same DATA_DIR: same keys, and an older session still decrypts', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], encrypted: true });
    const alice = await device(ALICE);
    const dataDir = tmpDir();
    const first = await startBot({ dataDir });
    const q1 = await alice.sendText(room, '!status fs');
    await decryptedReply(alice, room, q1);
    const keysBefore = fake.keys.query({ device_keys: { [fake.botUserId]: [] } }).device_keys[fake.botUserId];
    expect(Object.keys(keysBefore)).toEqual(['FAKEDEVICE']);
    await first.close();

    const toBot = () => fake.keys.toDeviceLog.filter((m) => m.to === fake.botUserId).length;
    const sharedBefore = toBot();
    const second = await startBot({ dataDir });
    const q2 = await alice.sendText(room, '!status mm');
    const r2 = await decryptedReply(alice, room, q2);
    expect(r2.content.body).toContain('Memory management');
    // Alice's Megolm session reached the bot before the restart only: it came back from DATA_DIR.
    expect(toBot()).toBe(sharedBefore);
    // Same device, same identity keys (a new identity would have been uploaded again).
    expect(fake.keys.query({ device_keys: { [fake.botUserId]: [] } }).device_keys[fake.botUserId]).toEqual(keysBefore);
    expect(second.adapter.cryptoStore!.recordCount()).toBeGreaterThan(0);
    expect(second.adapterLogs.some((l) => l.msg === 'connected to Matrix' && l.device === 'FAKEDEVICE' && l.e2ee === true)).toBe(true);
  });

  it('after joining an encrypted room of three people it answers the first question (keys are fetched before sessions are claimed)', async () => {
    const [alice, bob, carol] = [await device(ALICE), await device(BOB), await device(CAROL)];
    await startBot();
    const room = fake.invite(ALICE, { encrypted: true });
    fake.setMembership(room, BOB, 'join');
    fake.setMembership(room, CAROL, 'join');
    await fake.waitForRequest((r) => r.method === 'POST' && r.path.endsWith(`/join/${room}`) && r.status === 200, WAIT);
    await alice.sync();
    const asked = await alice.sendText(room, '!status rt');
    const { content } = await decryptedReply(alice, room, asked);
    expect(content.body).toContain('Realtime');
    // Every member's device got the room key.
    const shared = fake.keys.toDeviceLog.filter((m) => m.sender === fake.botUserId && m.type === 'm.room.encrypted').map((m) => m.to);
    expect(new Set(shared)).toEqual(new Set([ALICE, BOB, CAROL]));
    await bob.sync();
    await carol.sync();
  }, 40_000);

  it('room keys follow devices and membership while the shim reuses "nothing to share": a member\'s new device and a member who joins later decrypt the next reply, one who left gets a new session it cannot read', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], encrypted: true });
    const [alice, bob, carol] = [await device(ALICE), await device(BOB), await device(CAROL)];
    await startBot();
    const ask = async (text: string) => decryptedReply(alice, room, await alice.sendText(room, text));
    const r1 = await ask('!status fs');
    const r2 = await ask('!status mm'); // the second send reuses the first one's answers
    expect(r2.sent.content.session_id).toBe(r1.sent.content.session_id);

    const aliceLaptop = m.keep(await TestDevice.create(fake, ALICE, 'LAPTOP')); // a new device of a member: a device-list change
    const rLaptop = await ask('!status arch');
    expect((await aliceLaptop.decrypt(room, rLaptop.sent.eventId)).content.body).toBe(rLaptop.content.body);

    fake.setMembership(room, CAROL, 'join');
    const r3 = await ask('!status rt');
    expect((await carol.decrypt(room, r3.sent.eventId)).content.body).toContain('Realtime');
    expect(r3.sent.content.session_id).toBe(r1.sent.content.session_id); // history is shared: a join keeps the session

    fake.setMembership(room, BOB, 'leave');
    const r4 = await ask('!topics');
    expect(r4.sent.content.session_id).not.toBe(r3.sent.content.session_id);
    await expect(bob.decrypt(room, r4.sent.eventId)).rejects.toThrow();
    expect((await carol.decrypt(room, r4.sent.eventId)).content.body).toBe(r4.content.body);
    expectOnlyCiphertext(room);
  }, 40_000);

  it("rotates the room key after the room's rotation_period_msgs replies, also when the shim skips the checks in between", async () => {
    const room = fake.createRoom({ members: [ALICE] });
    fake.sendEvent(room, { sender: ALICE, type: 'm.room.encryption', stateKey: '', content: { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_msgs: 3 } });
    const alice = await device(ALICE);
    await startBot();
    const sessions: string[] = [];
    for (const text of ['!status fs', '!status mm', '!status rt', '!topics', '!status fs', '!status mm', '!status rt']) {
      const reply = await decryptedReply(alice, room, await alice.sendText(room, text));
      sessions.push(reply.sent.content.session_id);
    }
    // Runs of one session id: exactly three replies each (a session used past its limit would crash the machine).
    const runs: number[] = [];
    for (let i = 0; i < sessions.length; i++) {
      if (i && sessions[i] === sessions[i - 1]) runs[runs.length - 1]!++;
      else runs.push(1);
    }
    expect(runs).toEqual([3, 3, 1]);
    expect(new Set(sessions).size).toBe(3);
  }, 40_000);

  it('decrypts the questions but not its own replies coming back in the sync', async () => {
    const room = fake.createRoom({ members: [ALICE], encrypted: true });
    const alice = await device(ALICE);
    const b = await startBot();
    const echoes = new Set<string>();
    b.adapter.client.on('room.event', (roomId: string, ev: { sender?: string; event_id: string }) => {
      if (roomId === room && ev.sender === fake.botUserId) echoes.add(ev.event_id);
    });
    const machine = require('@matrix-org/matrix-sdk-crypto-nodejs').OlmMachine.prototype;
    const decrypt = machine.decryptRoomEvent;
    const decrypted: string[] = [];
    machine.decryptRoomEvent = function (this: unknown, event: string, roomId: unknown) {
      decrypted.push(JSON.parse(event).sender);
      return decrypt.call(this, event, roomId);
    };
    try {
      for (const text of ['!status fs', '!topics']) await decryptedReply(alice, room, await alice.sendText(room, text));
      const replies = fake.sent.filter((e) => e.roomId === room).map((e) => e.eventId);
      expect(replies).toHaveLength(2);
      await until('the replies came back through the sync', () => replies.every((id) => echoes.has(id)), { timeoutMs: WAIT });
      expect(decrypted).toEqual([ALICE, ALICE]);
    } finally {
      machine.decryptRoomEvent = decrypt;
    }
  });

  it('a message it cannot decrypt is logged once with room and session, and the room gets one short notice; nothing crashes', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], encrypted: true });
    const [alice, bob] = [await device(ALICE), await device(BOB)];
    const b = await startBot();
    const lost1 = await alice.sendText(room, '!status fs', { withholdKey: true });
    const notice = await fake.waitForSent((e) => e.roomId === room && e.type === 'm.room.encrypted', WAIT);
    const clear = await bob.decrypt(room, notice.eventId);
    expect(clear.content.msgtype).toBe('m.notice');
    expect(clear.content.body).toMatch(/could not decrypt a message/);
    const lost2 = await alice.sendText(room, '!status mm', { withholdKey: true });

    // A probe from Bob (whose key the bot has) is answered after both undecryptable messages were handled.
    const probe = await bob.sendText(room, '!topics');
    await decryptedReply(bob, room, probe);
    await b.adapter.stop();
    const sent = fake.sent.filter((e) => e.roomId === room);
    expect(sent).toHaveLength(2); // the notice and the probe's reply: no second notice within the hour
    const warnings = b.adapterLogs.filter((l) => l.msg === 'cannot decrypt a message');
    expect(warnings).toHaveLength(1); // one session, logged once
    const session = fake.timeline(room).find((e) => e.event_id === lost1)!.content.session_id;
    expect(fake.timeline(room).find((e) => e.event_id === lost2)!.content.session_id).toBe(session);
    expect(warnings[0]).toMatchObject({ room, session, event: lost1, sender: ALICE });
    expect(b.adapterLogs.filter((l) => /decrypt/i.test(String(l.msg)))).toHaveLength(1); // the SDK's own error line per event is not repeated
    expectOnlyCiphertext(room);
  });

  it('refuses a second process on the same DATA_DIR with a clear error (exit code 2)', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], encrypted: true });
    const dataDir = tmpDir();
    await startBot({ dataDir });
    const env = cleanEnv({ MATRIX_HOMESERVER_URL: fake.url, MATRIX_ACCESS_TOKEN: fake.accessToken, DATA_DIR: dataDir });
    const second = await runNode(['dist/src/main.js'], '', env);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/matrix-crypto\/olm-machine\.sqlite is in use by another process: run one bot per DATA_DIR/);
    expect(second.stderr).not.toContain(fake.accessToken);
    // The first one is unharmed.
    const alice = await device(ALICE);
    const asked = await alice.sendText(room, '!topics');
    await decryptedReply(alice, room, asked);
  }, 40_000);

  it('MATRIX_E2EE=false: no device keys, and the old notice in encrypted rooms', async () => {
    const room = fake.createRoom({ members: [ALICE, BOB], encrypted: true });
    await startBot({ e2ee: false });
    fake.sendEvent(room, {
      sender: ALICE,
      type: 'm.room.encrypted',
      content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AwgAEnAKfake', sender_key: 'k', session_id: 's', device_id: 'D' },
    });
    const notice = await fake.waitForSent((e) => e.roomId === room, WAIT);
    expect(notice.type).toBe('m.room.message');
    expect(notice.content.body).toMatch(/cannot read encrypted messages/);
    expect(fake.requests.filter((r) => r.path.includes('/keys/'))).toEqual([]);
  });

  it('encryption is off when the access token belongs to no device (MATRIX_E2EE unset)', async () => {
    fake = await m.restartFake({ botDeviceId: null });
    const room = fake.createRoom({ members: [ALICE, BOB] });
    const b = await startBot();
    const asked = fake.sendText(room, ALICE, '!topics');
    const reply = await m.replyTo(asked);
    expect(reply.type).toBe('m.room.message');
    expect(fake.requests.filter((r) => r.path.includes('/keys/'))).toEqual([]);
    expect(b.adapterLogs.some((l) => l.msg === 'connected to Matrix' && l.e2ee === false)).toBe(true);
  });
});
