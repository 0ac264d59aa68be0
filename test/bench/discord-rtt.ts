/**
 * Interaction round trip on the fake Discord: from the fake sending INTERACTION_CREATE for `/status topic:fs`
 * to the fake receiving the bot's callback (POST /interactions/{id}/{token}/callback), through the real
 * discord.js Client. Measured for the bot (DiscordAdapter over the real Bot) and, as the baseline, for the bare
 * pong bot (test/fakes/discord/pong-bot.ts) on the same fake, one after the other, sequentially (one interaction
 * in flight at a time).
 *
 *   node --import tsx test/bench/discord-rtt.ts [iterations]   # prints { bot_p50, pong_p50, ratio } as JSON
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startPongBot } from '../fakes/discord/pong-bot.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/server.js';
import { startDiscordBot } from '../support/discord-bot.js';

export interface DiscordRoundTrip {
  /** Median round trip of the bot, ms. */
  bot_p50: number;
  /** Median round trip of the pong bot, ms. */
  pong_p50: number;
  /** bot_p50 / pong_p50. */
  ratio: number;
}

const WARMUP = 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `iterations` sequential /status topic:fs round trips (after a warm-up), in ms. */
async function roundTrips(fake: FakeDiscord, iterations: number, check: (body: any) => boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + iterations; i++) {
    const sentAt = performance.now();
    const { callback } = fake.sendInteraction({ commandName: 'status', options: [{ name: 'topic', type: 3, value: 'fs' }] });
    const req = await callback;
    if (req.status !== 204 || !check(req.body)) throw new Error(`unexpected callback (${req.status}): ${JSON.stringify(req.body).slice(0, 300)}`);
    if (i >= WARMUP) times.push(req.at - sentAt);
  }
  return times;
}

/** Median interaction round trip (ms) of the bot and of the pong bot on one fake Discord, and their ratio. */
export async function measureDiscordRoundTrip(iterations = 200): Promise<DiscordRoundTrip> {
  const fake = await startFakeDiscord();
  try {
    const bot = await startDiscordBot(fake, { bot: { rateLimit: { burst: 1_000_000, perMinute: 60_000_000 } }, digests: false });
    let botTimes: number[];
    try {
      await fake.waitForReady(1);
      botTimes = await roundTrips(fake, iterations, (b) => String(b?.data?.embeds?.[0]?.title ?? '').includes('Filesystems'));
    } finally {
      await bot.stop();
    }

    const pong = await startPongBot(fake.apiUrl, fake.token);
    let pongTimes: number[];
    try {
      await fake.waitForReady(2);
      pongTimes = await roundTrips(fake, iterations, (b) => b?.data?.content === 'pong');
    } finally {
      await pong.stop();
    }

    const bot_p50 = median(botTimes);
    const pong_p50 = median(pongTimes);
    return { bot_p50, pong_p50, ratio: bot_p50 / pong_p50 };
  } finally {
    await fake.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const iterations = Number(process.argv[2] ?? 200);
  measureDiscordRoundTrip(iterations).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
