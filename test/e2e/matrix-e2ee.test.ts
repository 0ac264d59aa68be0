/**
 * End-to-end encryption on Matrix: the real MatrixAdapter on the real matrix-bot-sdk CryptoClient (over our
 * shim on the wasm binding), against the fake homeserver, with test users that are real devices (an
 * OlmMachine each, test/support/matrix-device.ts). Assertions are on what the homeserver received and on
 * what the test user's device decrypts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quietMatrixSdkLogs } from '../fakes/matrix/logging.js';
import { startFakeMatrix, type FakeMatrix, type SentEvent } from '../fakes/matrix/server.js';
import { TestDevice } from '../support/matrix-device.js';
import { inReplyTo, makeMatrixBot, type MatrixBot, type MatrixBotOptions } from '../support/matrix-bot.js';

const ALICE = '@alice:fake.local';
const BOB = '@bob:fake.local';
const WAIT = 20_000;

let fake: FakeMatrix;
let bots: MatrixBot[];
let devices: TestDevice[];
let dirs: string[];

function tmpDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'matrix-e2ee-'));
  dirs.push(d);
  return d;
}

async function startBot(o: Partial<MatrixBotOptions> = {}): Promise<MatrixBot> {
  const syncs = fake.incrementalSyncs;
  const b = await makeMatrixBot(fake, { dataDir: o.dataDir ?? tmpDir(), ...o });
  bots.push(b);
  await b.adapter.start();
  await fake.waitForSync(syncs + 1, WAIT);
  return b;
}

async function device(userId: string): Promise<TestDevice> {
  const d = await TestDevice.create(fake, userId);
  devices.push(d);
  return d;
}

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

beforeEach(async () => {
  quietMatrixSdkLogs();
  fake = await startFakeMatrix({ timelineLimit: 50 });
  bots = [];
  devices = [];
  dirs = [];
});

afterEach(async () => {
  for (const b of bots) await b.close();
  for (const d of devices) d.close();
  await fake.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  const failures = bots.flatMap((b) => b.adapterLogs.filter((l) => l.msg === 'matrix listener failed'));
  expect(failures).toEqual([]);
});

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
});
