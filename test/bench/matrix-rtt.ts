import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoBot } from '../fakes/matrix/echo-bot.js';
import { startFakeMatrix, type FakeMatrix } from '../fakes/matrix/server.js';
import { makeMatrixBot } from '../support/matrix-bot.js';
import { percentile, round } from './stats.js';

/** Median time from the fake homeserver storing a user's `!status fs` to it receiving the bot's reply. */
async function roundTrips(fake: FakeMatrix, room: string, body: string, iterations: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const before = fake.sent.length;
    const t = performance.now();
    fake.sendText(room, '@alice:fake.local', body);
    await fake.waitForSent((e) => e.roomId === room && fake.sent.indexOf(e) >= before, 10_000);
    out.push(performance.now() - t);
  }
  return out;
}

/** Our adapter vs a bare matrix-bot-sdk bot answering "pong", on the same fake homeserver (p50 ms). */
export async function measureMatrixRoundTrip(iterations = 80): Promise<{ bot_p50: number; echo_p50: number; ratio: number }> {
  const fake = await startFakeMatrix({ timelineLimit: 50 });
  const room = fake.createRoom({ members: ['@alice:fake.local', '@bob:fake.local'] });
  const bot = await makeMatrixBot(fake, { dataDir: mkdtempSync(join(tmpdir(), 'ksb-bench-mx-')) });
  await bot.adapter.start();
  await fake.waitForSync(1);
  const ours = await roundTrips(fake, room, '!status fs', iterations);
  await bot.close();
  const echo = await startEchoBot(fake.url, fake.accessToken, mkdtempSync(join(tmpdir(), 'ksb-bench-echo-')));
  await fake.waitForSync(2);
  const pong = await roundTrips(fake, room, 'ping', iterations);
  await echo.stop();
  await fake.close();
  const b = percentile(ours.slice(5), 50);
  const e = percentile(pong.slice(5), 50);
  return { bot_p50: round(b), echo_p50: round(e), ratio: round(b / e, 2) };
}
