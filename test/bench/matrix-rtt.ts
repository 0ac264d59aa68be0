/**
 * Message round trip on the fake homeserver: from the fake storing a user's `!status fs` (and waking the
 * held /sync) to it receiving the bot's reply (PUT /send), through the real matrix-bot-sdk MatrixClient.
 * Measured for the bot (MatrixAdapter over the real Bot) and, as the baseline, for the bare echo bot
 * (test/fakes/matrix/echo-bot.ts), sequentially (one message in flight at a time).
 *
 * Each bot gets a fresh fake homeserver with the same options and the same room: the echo bot answers every
 * m.text its first sync shows, so sharing one server would hand it the bot phase's messages as a backlog whose
 * "pong"s then satisfy the first waits at once. Warm-up round trips are excluded, and every reply is checked
 * to answer the message just sent.
 *
 *   node --import tsx test/bench/matrix-rtt.ts [iterations]   # prints { bot_p50, echo_p50, ratio } as JSON
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startEchoBot } from '../fakes/matrix/echo-bot.js';
import { startFakeMatrix, type FakeMatrix, type SentEvent } from '../fakes/matrix/server.js';
import { inReplyTo, makeMatrixBot } from '../support/matrix-bot.js';
import { percentile, round } from './stats.js';

const WARMUP = 20;
const MEMBERS = ['@alice:fake.local', '@bob:fake.local'];

/** `iterations` sequential round trips (after a warm-up), in ms: fake stores the message → fake receives the reply. */
async function roundTrips(fake: FakeMatrix, room: string, body: string, iterations: number, answers: (e: SentEvent, asked: string) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < WARMUP + iterations; i++) {
    const before = fake.sent.length;
    const t = performance.now();
    const asked = fake.sendText(room, '@alice:fake.local', body);
    const reply = await fake.waitForSent((e) => e.roomId === room && fake.sent.indexOf(e) >= before, 10_000);
    if (!answers(reply, asked)) throw new Error(`unexpected reply to ${body}: ${JSON.stringify(reply.content).slice(0, 300)}`);
    if (i >= WARMUP) out.push(reply.at - t);
  }
  return out;
}

/** Our adapter vs a bare matrix-bot-sdk bot answering "pong", each on a fresh fake homeserver (p50 ms). */
export async function measureMatrixRoundTrip(iterations = 80): Promise<{ bot_p50: number; echo_p50: number; ratio: number }> {
  const dirs: string[] = [];
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  try {
    let ours: number[];
    {
      const fake = await startFakeMatrix({ timelineLimit: 50 });
      try {
        const room = fake.createRoom({ members: MEMBERS });
        const bot = await makeMatrixBot(fake, { dataDir: tmp('ksb-bench-mx-') });
        try {
          await bot.adapter.start();
          await fake.waitForSync(1);
          ours = await roundTrips(fake, room, '!status fs', iterations, (e, asked) => inReplyTo(e) === asked && String(e.content?.body).includes('Filesystems'));
        } finally {
          await bot.close();
        }
      } finally {
        await fake.close();
      }
    }
    let pong: number[];
    {
      const fake = await startFakeMatrix({ timelineLimit: 50 });
      try {
        const room = fake.createRoom({ members: MEMBERS });
        const echo = await startEchoBot(fake.url, fake.accessToken, tmp('ksb-bench-echo-'));
        try {
          await fake.waitForSync(1);
          pong = await roundTrips(fake, room, 'ping', iterations, (e) => e.content?.body === 'pong');
        } finally {
          await echo.stop();
        }
      } finally {
        await fake.close();
      }
    }
    const b = percentile(ours, 50);
    const e = percentile(pong, 50);
    return { bot_p50: round(b), echo_p50: round(e), ratio: round(b / e, 2) };
  } finally {
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
