/**
 * Interaction round trip on the fake Discord: from the fake sending INTERACTION_CREATE for `/status topic:fs`
 * to the fake receiving the bot's callback (POST /interactions/{id}/{token}/callback), through the real
 * discord.js Client. Measured for the bot (DiscordAdapter over the real Bot) and, as the baseline, for the bare
 * pong bot (test/fakes/discord/pong-bot.ts), one interaction in flight at a time.
 *
 * Fairness: each bot has its own fake server (same options) and the round trips alternate, bot then pong, so
 * both see the same background load and the same JIT warmth (measured one after the other, a busy machine
 * moved the ratio between 0.97 and 1.5 from run to run). The fake echoes each reply as MESSAGE_CREATE to its
 * client; the next round trip starts once that client has handled it, so that work belongs to neither bot's
 * next round trip nor to the other bot's. Warm-up round trips are excluded.
 *
 *   node --import tsx test/bench/discord-rtt.ts [iterations]   # prints { bot_p50, pong_p50, ratio } as JSON
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Events, type Client, type Message } from 'discord.js';
import { startPongBot } from '../fakes/discord/pong-bot.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/server.js';
import { createLogger } from '../../src/log.js';
import { startDiscordBot } from '../support/discord-bot.js';
import { alternate, median } from './stats.js';

export interface DiscordRoundTrip {
  /** Median round trip of the bot, ms. */
  bot_p50: number;
  /** Median round trip of the pong bot, ms. */
  pong_p50: number;
  /** bot_p50 / pong_p50. */
  ratio: number;
}

const WARMUP = 20;

/** Resolves once `client` has handled the echo of its own next message (or after 1 s, whichever first). */
function ownEcho(client: Client): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off(Events.MessageCreate, onMessage);
      setImmediate(resolve); // let the client's listeners finish
    };
    const onMessage = (m: Message) => {
      if (m.author.id === client.user?.id) done();
    };
    const timer = setTimeout(done, 1000);
    client.on(Events.MessageCreate, onMessage);
  });
}

/** One /status topic:fs round trip, in ms: fake sends the interaction → fake receives the callback. */
async function roundTrip(fake: FakeDiscord, client: Client, check: (body: any) => boolean): Promise<number> {
  const echoed = ownEcho(client);
  const sentAt = performance.now();
  const { callback } = fake.sendInteraction({ commandName: 'status', options: [{ name: 'topic', type: 3, value: 'fs' }] });
  const req = await callback;
  if (req.status !== 204 || !check(req.body)) throw new Error(`unexpected callback (${req.status}): ${JSON.stringify(req.body).slice(0, 300)}`);
  await echoed;
  return req.at - sentAt;
}

/** Median interaction round trip (ms) of the bot and of the pong bot, alternating, and their ratio. */
export async function measureDiscordRoundTrip(iterations = 200): Promise<DiscordRoundTrip> {
  const botFake = await startFakeDiscord();
  const pongFake = await startFakeDiscord();
  try {
    const bot = await startDiscordBot(botFake, {
      bot: { rateLimit: { burst: 1_000_000, perMinute: 60_000_000 } },
      digests: false,
      logger: createLogger('info', '/dev/null'), // the production logger: one synchronous JSON line per message
    });
    try {
      const pong = await startPongBot(pongFake.apiUrl, pongFake.token);
      try {
        await botFake.waitForReady(1);
        await pongFake.waitForReady(1);
        const [botTimes, pongTimes] = await alternate(
          iterations,
          WARMUP,
          () => roundTrip(botFake, bot.adapter.client, (body) => String(body?.data?.embeds?.[0]?.title ?? '').includes('Filesystems')),
          () => roundTrip(pongFake, pong.client, (body) => body?.data?.content === 'pong'),
        );
        const bot_p50 = median(botTimes);
        const pong_p50 = median(pongTimes);
        return { bot_p50, pong_p50, ratio: bot_p50 / pong_p50 };
      } finally {
        await pong.stop();
      }
    } finally {
      await bot.stop();
    }
  } finally {
    await botFake.close();
    await pongFake.close();
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
