import { Writable } from 'node:stream';
import pino from 'pino';
import { Bot, type BotOptions } from '../../src/core/bot.js';
import type { CommandDef, IncomingMessage } from '../../src/core/command.js';
import { loadCommands } from '../../src/core/registry.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';

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

/** A real Bot over the real knowledge and commands (plus `extra` commands), logging into memory. */
export async function makeBot(opts: Partial<BotOptions> & { extra?: CommandDef[] } = {}) {
  const { logger, lines } = captureLogger();
  const bot = new Bot({
    commands: [...(await loadCommands()), ...(opts.extra ?? [])],
    knowledge: opts.knowledge ?? new KnowledgeBase('knowledge'),
    logger,
    ...opts,
  });
  return { bot, lines };
}

/** A message from `userId` in a chat room; addressed unless told otherwise. */
export function msg(text: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return { platform: 'test', text, userId: 'u1', channelId: 'c1', addressed: true, ...extra };
}
