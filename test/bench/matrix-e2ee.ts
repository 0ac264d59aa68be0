/**
 * Matrix end-to-end encryption, measured on the fake homeserver with the real MatrixAdapter and
 * matrix-bot-sdk CryptoClient (our shim over the wasm binding):
 *
 * - round trip of `!status fs` in an encrypted room next to the same command in an unencrypted room, same
 *   bot, same fake, alternating; from the fake storing the question to it receiving the reply (PUT /send).
 *   The questions come from test users with real devices (test/support/matrix-device.ts); they are
 *   encrypted before the clock starts and every reply is decrypted and checked after it stops.
 * - time to the first answer after the bot joins an encrypted room of three people with devices (what
 *   matrix-bot-sdk's addTrackedUsers made ~5 s per member; see src/adapters/matrix/crypto.ts).
 *
 *   node --import tsx test/bench/matrix-e2ee.ts [iterations]   # prints the figures as JSON
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { MatrixClient } from 'matrix-bot-sdk';
import { startFakeMatrix, type FakeMatrix, type SentEvent } from '../fakes/matrix/server.js';
import { createLogger } from '../../src/log.js';
import { TestDevice } from '../support/matrix-device.js';
import { inReplyTo, makeMatrixBot } from '../support/matrix-bot.js';
import { alternate, percentile, round } from './stats.js';

const WARMUP = 20;
const SENDERS = Array.from({ length: 4 }, (_, i) => `@user${i}:fake.local`);

/** The fake's record of the bot's next event in `room`, once the bot's own sync has handed it back (encrypted or not). */
function nextOwnEvent(fake: FakeMatrix, client: MatrixClient, room: string): Promise<SentEvent> {
  return new Promise<SentEvent>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      client.off('room.event', onEvent);
    };
    const onEvent = (roomId: string, ev: { event_id?: string; sender?: string }) => {
      if (roomId !== room || ev?.sender !== fake.botUserId) return;
      let sent: SentEvent | undefined;
      for (let i = fake.sent.length - 1; i >= 0 && !sent; i--) if (fake.sent[i]!.eventId === ev.event_id) sent = fake.sent[i];
      if (!sent) return;
      stop();
      setImmediate(() => resolve(sent));
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error('no reply within 10 s'));
    }, 10_000);
    client.on('room.event', onEvent);
  });
}

/** Encrypted vs unencrypted `!status fs` round trip p50 (ms), same bot and fake. */
export async function measureMatrixEncryptedRoundTrip(iterations = 80): Promise<{ encrypted_p50: number; plain_p50: number; ratio: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-e2ee-'));
  const fake = await startFakeMatrix({ timelineLimit: 50 });
  const devices: TestDevice[] = [];
  try {
    const members = [...SENDERS, '@bob:fake.local'];
    const plainRoom = fake.createRoom({ members });
    const encRoom = fake.createRoom({ members, encrypted: true });
    for (const u of SENDERS) devices.push(await TestDevice.create(fake, u));
    const bot = await makeMatrixBot(fake, { dataDir, logger: createLogger('info', '/dev/null') });
    try {
      await bot.adapter.start();
      await fake.waitForSync(1);
      const client = bot.adapter.client;
      const encrypted = async (i: number) => {
        const d = devices[i % devices.length]!;
        const content = await d.encrypt(encRoom, { msgtype: 'm.text', body: '!status fs' });
        const replied = nextOwnEvent(fake, client, encRoom);
        const t = performance.now();
        const asked = fake.sendEvent(encRoom, { sender: d.userId, type: 'm.room.encrypted', content });
        const reply = await replied;
        const ms = reply.at - t;
        const clear = await d.decrypt(encRoom, reply.eventId);
        if (
          reply.type !== 'm.room.encrypted' ||
          inReplyTo({ ...reply, content: clear.content }) !== asked ||
          !String(clear.content.body).includes('Filesystems')
        ) {
          throw new Error(`unexpected encrypted reply: ${JSON.stringify(clear).slice(0, 300)}`);
        }
        return ms;
      };
      const plain = async (i: number) => {
        const replied = nextOwnEvent(fake, client, plainRoom);
        const t = performance.now();
        const asked = fake.sendText(plainRoom, SENDERS[i % SENDERS.length]!, '!status fs');
        const reply = await replied;
        if (inReplyTo(reply) !== asked || !String(reply.content?.body).includes('Filesystems')) throw new Error('unexpected plain reply');
        return reply.at - t;
      };
      const [enc, pl] = await alternate(iterations, WARMUP, encrypted, plain);
      const ep = percentile(enc, 50);
      const pp = percentile(pl, 50);
      return { encrypted_p50: round(ep), plain_p50: round(pp), ratio: round(ep / pp, 2) };
    } finally {
      await bot.close();
    }
  } finally {
    for (const d of devices) d.close();
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** ms from the bot's join of an encrypted three-person room to its answer to the first question asked there. */
export async function measureFirstAnswerAfterJoin(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-join-'));
  const fake = await startFakeMatrix({ timelineLimit: 50 });
  const devices: TestDevice[] = [];
  try {
    const [alice, bob, carol] = ['@alice:fake.local', '@bob:fake.local', '@carol:fake.local'];
    for (const u of [alice!, bob!, carol!]) devices.push(await TestDevice.create(fake, u));
    const bot = await makeMatrixBot(fake, { dataDir, logger: createLogger('info', '/dev/null') });
    try {
      await bot.adapter.start();
      await fake.waitForSync(1);
      const room = fake.invite(alice!, { encrypted: true });
      fake.setMembership(room, bob!, 'join');
      fake.setMembership(room, carol!, 'join');
      await fake.waitForRequest((r) => r.method === 'POST' && r.path.endsWith(`/join/${room}`) && r.status === 200, 30_000);
      const joinedAt = performance.now();
      const asked = await devices[0]!.sendText(room, '!status rt');
      const reply = await fake.waitForSent((e) => e.roomId === room && inReplyTo(e) === asked, 60_000);
      return round(reply.at - joinedAt, 1);
    } finally {
      await bot.close();
    }
  } finally {
    for (const d of devices) d.close();
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  (async () => {
    const rtt = await measureMatrixEncryptedRoundTrip(Number(process.argv[2] ?? 80));
    const join_first_answer_ms = await measureFirstAnswerAfterJoin();
    console.log(JSON.stringify({ ...rtt, join_first_answer_ms }));
  })().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
