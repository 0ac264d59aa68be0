/**
 * The real DiscordAdapter over a real Bot (knowledge and commands from the repository), logged in to a fake
 * Discord server (test/fakes/discord/server.ts) through the real discord.js Client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Logger } from 'pino';
import { join } from 'node:path';
import { DiscordAdapter } from '../../src/adapters/discord/adapter.js';
import type { Bot } from '../../src/core/bot.js';
import { DigestService } from '../../src/digest/service.js';
import { SqliteDigestStore } from '../../src/digest/store.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import type { FakeDiscord } from '../fakes/discord/server.js';
import { captureLogger, makeBot } from './bot.js';

export interface DiscordBotOptions {
  /** Register the commands to this guild as well (DISCORD_GUILD_ID). */
  guildId?: string;
  /** Token to log in with (default: the fake's). */
  token?: string;
  /** Passed to makeBot (knowledge, extra commands, rate limit, ...). */
  bot?: Parameters<typeof makeBot>[0];
  /** Wire a DigestService on a temporary SQLite file (default true). */
  digests?: boolean;
  /** Call start() (default true). */
  start?: boolean;
  /** Log here instead of into memory (the benchmark passes the production logger); `lines` stays empty. */
  logger?: Logger;
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
  const knowledge = o.bot?.knowledge ?? new KnowledgeBase('knowledge');
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-discord-'));
  const store = o.digests === false ? undefined : new SqliteDigestStore(join(dataDir, 'digests.sqlite'));
  const digests = store ? new DigestService(store, knowledge, { minIntervalSeconds: 1, maxPerChannel: 10 }) : undefined;
  const captured = captureLogger();
  const logger = o.logger ?? captured.logger;
  const lines = captured.lines;
  const { bot } = await makeBot({ ...o.bot, logger, knowledge, ...(digests ? { services: { ...o.bot?.services, digests } } : {}) });
  const adapter = new DiscordAdapter({
    token: o.token ?? fake.token,
    apiUrl: fake.apiUrl,
    ...(o.guildId ? { guildId: o.guildId } : {}),
    bot,
    logger,
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      try {
        await adapter.stop();
      } finally {
        store?.close();
        rmSync(dataDir, { recursive: true, force: true });
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
  return { adapter, bot, lines, ...(digests ? { digests } : {}), stop };
}
