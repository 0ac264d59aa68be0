/**
 * The real DiscordAdapter over a real Bot, built by the production composition root (createApp) with the
 * knowledge and commands from the repository, logged in to a fake Discord server (test/fakes/discord/server.ts)
 * through the real discord.js Client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DiscordAdapter } from '../../src/adapters/discord/adapter.js';
import { createApp } from '../../src/app.js';
import type { Bot } from '../../src/core/bot.js';
import type { DigestService } from '../../src/digest/service.js';
import type { FakeDiscord } from '../fakes/discord/server.js';
import { captureLogger, testConfig, type TestBotOptions } from './bot.js';

export interface DiscordBotOptions {
  /** Register the commands to this guild as well (DISCORD_GUILD_ID). */
  guildId?: string;
  /** Token to log in with (default: the fake's). */
  token?: string;
  /** Knowledge, extra commands, rate limit, ... (see makeBot). */
  bot?: Pick<TestBotOptions, 'knowledge' | 'extra' | 'rateLimit' | 'maxInputChars'>;
  /** Open the digest store in the temporary DATA_DIR (default true). */
  digests?: boolean;
  /** BOT_ADMINS (Discord user ids). */
  admins?: string[];
  /** Call start() (default true). */
  start?: boolean;
  /** Log here instead of into memory (the benchmark passes the production logger); `lines` stays empty. */
  logger?: Logger;
  /** DATA_DIR to use and keep (a restart of the same bot); default: a temporary one, removed by stop(). */
  dataDir?: string;
}

export interface DiscordBot {
  adapter: DiscordAdapter;
  bot: Bot;
  /** The bot's log lines (JSON). */
  lines: Record<string, unknown>[];
  digests?: DigestService;
  /** Stops the adapter (reconnect-safe) and removes the temporary data; idempotent. */
  stop(): Promise<void>;
}

/** Builds a bot and its Discord adapter against `fake`; started (logged in, ready, commands synced) unless `start: false`. */
export async function startDiscordBot(fake: FakeDiscord, o: DiscordBotOptions = {}): Promise<DiscordBot> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'ksb-discord-'));
  const captured = captureLogger();
  const logger = o.logger ?? captured.logger;
  const config = testConfig({
    DISCORD_TOKEN: o.token ?? fake.token,
    DISCORD_API_URL: fake.apiUrl,
    ...(o.guildId ? { DISCORD_GUILD_ID: o.guildId } : {}),
    DATA_DIR: dataDir,
    DIGEST_MIN_INTERVAL_SECONDS: '1',
    ...(o.admins ? { BOT_ADMINS: o.admins.join(',') } : {}),
  });
  const app = await createApp(config, logger, {
    digests: o.digests !== false,
    extraCommands: o.bot?.extra,
    bot: { rateLimit: o.bot?.rateLimit, maxInputChars: o.bot?.maxInputChars },
    ...(o.bot?.knowledge ? { knowledge: o.bot.knowledge } : {}),
  });
  const adapter = app.adapters[0] as DiscordAdapter;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      try {
        await adapter.stop();
      } finally {
        app.digests?.store.close();
        if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
      }
    })());
  if (o.start !== false) {
    try {
      await adapter.start();
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return { adapter, bot: app.bot, lines: captured.lines, ...(app.digests ? { digests: app.digests.service } : {}), stop };
}
