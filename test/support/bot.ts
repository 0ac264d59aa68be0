import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { createApp, type App, type AppOverrides } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { CommandDef, IncomingMessage } from '../../src/core/command.js';
import type { BotOptions } from '../../src/core/bot.js';
import type { KnowledgeBase } from '../../src/knowledge/base.js';

/** A pino logger whose JSON lines are kept in `lines` for assertions. */
export function captureLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** The configuration the tests start from: production defaults, no file watching, plus `env` (as the environment would give it). */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ KNOWLEDGE_WATCH: 'false', ...env });
}

export interface TestBotOptions extends Partial<Pick<BotOptions, 'rateLimit' | 'maxInputChars'>> {
  knowledge?: KnowledgeBase;
  /** Commands besides those in commands/. */
  extra?: CommandDef[];
  /** Open a digest store in a fresh temporary DATA_DIR (default false: /digest answers "not available"). */
  digests?: boolean;
  /** Environment variables for the configuration. */
  env?: Record<string, string>;
  logger?: Logger;
}

/**
 * A real Bot built by the production composition root (createApp) over the real knowledge and commands, with
 * no chat platform, logging into memory. `close()` closes the store and removes the temporary data.
 */
export async function makeBot(opts: TestBotOptions = {}) {
  const captured = captureLogger();
  const dataDir = opts.digests ? mkdtempSync(join(tmpdir(), 'ksb-bot-')) : undefined;
  const overrides: AppOverrides = {
    chat: false,
    digests: Boolean(opts.digests),
    extraCommands: opts.extra,
    bot: { rateLimit: opts.rateLimit, maxInputChars: opts.maxInputChars },
  };
  if (opts.knowledge) overrides.knowledge = opts.knowledge;
  const app: App = await createApp(testConfig({ ...(dataDir ? { DATA_DIR: dataDir } : {}), ...opts.env }), opts.logger ?? captured.logger, overrides);
  const close = () => {
    app.digests?.store.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return { bot: app.bot, app, lines: captured.lines, close };
}

/** A message from `userId` in a chat room; addressed unless told otherwise. */
export function msg(text: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return { platform: 'test', text, userId: 'u1', channelId: 'c1', addressed: true, ...extra };
}
