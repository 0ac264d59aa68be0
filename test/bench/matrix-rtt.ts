/**
 * Message round trip on the fake homeserver: from the fake storing a user's `!status fs` (and waking the
 * held /sync) to it receiving the bot's reply (PUT /send), through the real matrix-bot-sdk MatrixClient.
 * Measured for the bot (MatrixAdapter over the real Bot) and, as the baseline, for the bare echo bot
 * (test/fakes/matrix/echo-bot.ts), one message in flight at a time.
 *
 * Fairness:
 * - Each bot has its own fake homeserver (same options, same room). On a shared one the echo bot's first
 *   sync showed it the bot phase's messages as history, which it answered, and those "pong"s then satisfied
 *   the waits at once (echo p50 0.15 ms, under one HTTP round trip).
 * - The round trips alternate, bot then echo, so both see the same background load and JIT warmth.
 * - A bot's own reply comes back to it in a sync; the next round trip starts once it has handled that, so
 *   that work belongs to neither bot's next round trip nor to the other bot's (sent at once, the next
 *   message shared a sync with the previous reply, as it would not with a real homeserver and real users).
 * - Nothing of the harness runs inside the measured window but the fake itself (no scans of all sent events).
 * - Warm-up round trips are excluded; every reply is checked to answer the message just sent.
 *
 *   node --import tsx test/bench/matrix-rtt.ts [iterations]   # prints { bot_p50, echo_p50, ratio } as JSON
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { MatrixClient } from 'matrix-bot-sdk';
import { startEchoBot } from '../fakes/matrix/echo-bot.js';
import { startFakeMatrix, type FakeMatrix, type SentEvent } from '../fakes/matrix/server.js';
import { createLogger } from '../../src/log.js';
import { inReplyTo, makeMatrixBot } from '../support/matrix-bot.js';
import { alternate, percentile, round } from './stats.js';

const WARMUP = 20;
/** Who asks, in turn: the bot's per-user rate limit (burst 100 in the test wiring) stays out of the way of long runs. */
const SENDERS = Array.from({ length: 8 }, (_, i) => `@user${i}:fake.local`);
const MEMBERS = [...SENDERS, '@bob:fake.local'];

/**
 * Resolves with the fake's record of the next m.room.message that `client` (user `userId`) sends, once the
 * client's own sync has handed it back, so that the next round trip starts after the bot has handled its own
 * reply. Waiting on the client keeps the wait O(1): the fake's waitForSent scans every event sent so far on
 * each request, inside the measured window.
 */
function nextOwnMessage(fake: FakeMatrix, client: MatrixClient, userId: string): Promise<SentEvent> {
  return new Promise<SentEvent>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      client.off('room.event', onEvent);
    };
    const onEvent = (_room: string, ev: { event_id?: string; sender?: string; type?: string }) => {
      if (ev?.sender !== userId || ev.type !== 'm.room.message') return;
      let sent: SentEvent | undefined;
      for (let i = fake.sent.length - 1; i >= 0 && !sent; i--) if (fake.sent[i]!.eventId === ev.event_id) sent = fake.sent[i];
      if (!sent) return;
      stop();
      setImmediate(() => resolve(sent)); // let the SDK finish that sync and start the next one
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error('no reply within 10 s'));
    }, 10_000);
    client.on('room.event', onEvent);
  });
}

/** One round trip in ms: fake stores the message → fake receives the reply (checked to answer it). */
async function roundTrip(
  fake: FakeMatrix,
  client: MatrixClient,
  room: string,
  sender: string,
  body: string,
  answers: (e: SentEvent, asked: string) => boolean,
): Promise<number> {
  const replied = nextOwnMessage(fake, client, fake.botUserId);
  const t = performance.now();
  const asked = fake.sendText(room, sender, body);
  const reply = await replied;
  if (reply.roomId !== room || !answers(reply, asked)) throw new Error(`unexpected reply to ${body}: ${JSON.stringify(reply.content).slice(0, 300)}`);
  return reply.at - t;
}

/** Our adapter vs a bare matrix-bot-sdk bot answering "pong", alternating, each on its own fake homeserver (p50 ms). */
export async function measureMatrixRoundTrip(iterations = 80): Promise<{ bot_p50: number; echo_p50: number; ratio: number }> {
  const dirs: string[] = [];
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const botFake = await startFakeMatrix({ timelineLimit: 50 });
  const echoFake = await startFakeMatrix({ timelineLimit: 50 });
  try {
    const botRoom = botFake.createRoom({ members: MEMBERS });
    const echoRoom = echoFake.createRoom({ members: MEMBERS });
    const bot = await makeMatrixBot(botFake, { dataDir: tmp('ksb-bench-mx-'), logger: createLogger('info', '/dev/null') }); // the production logger
    try {
      await bot.adapter.start();
      const echo = await startEchoBot(echoFake.url, echoFake.accessToken, tmp('ksb-bench-echo-'));
      try {
        await botFake.waitForSync(1);
        await echoFake.waitForSync(1);
        const sender = (i: number) => SENDERS[i % SENDERS.length]!;
        const [ours, pong] = await alternate(
          iterations,
          WARMUP,
          (i) =>
            roundTrip(
              botFake,
              bot.adapter.client,
              botRoom,
              sender(i),
              '!status fs',
              (e, asked) => inReplyTo(e) === asked && String(e.content?.body).includes('Filesystems'),
            ),
          (i) => roundTrip(echoFake, echo.client, echoRoom, sender(i), 'ping', (e) => e.content?.body === 'pong'),
        );
        const bp = percentile(ours, 50);
        const ep = percentile(pong, 50);
        return { bot_p50: round(bp), echo_p50: round(ep), ratio: round(bp / ep, 2) };
      } finally {
        await echo.stop();
      }
    } finally {
      await bot.close();
    }
  } finally {
    await botFake.close();
    await echoFake.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  measureMatrixRoundTrip(Number(process.argv[2] ?? 80)).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
