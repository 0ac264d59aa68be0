import { parseArgs } from 'node:util';
import { createApp } from '../app.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { splitCommand } from '../core/parse.js';
import { renderText } from '../core/render-text.js';
import { fatal } from '../main-errors.js';

const PREFIXES = ['/', '!'];

/** `npm run ask -- "<message>" [--json]`: answers one message and exits. */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { json: { type: 'boolean', default: false } }, allowPositionals: true });
  const text = positionals.join(' ');
  if (text.trim() === '') {
    process.stderr.write('usage: npm run ask -- "<message>" [--json]\n  e.g. npm run ask -- "/status fs"\n');
    process.exitCode = 2;
    return;
  }
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const app = await createApp(config, logger, { digests: false, chat: false }); // one question: no store, no platform
  const reply = await app.bot.handle(
    { platform: 'cli', text, userId: 'cli', channelId: 'cli', addressed: true, canManage: true, isAdmin: true, unlimited: true },
    PREFIXES,
  );
  if (reply) process.stdout.write(values.json ? `${JSON.stringify(reply, null, 2)}\n` : `${renderText(reply, splitCommand(text, PREFIXES)?.prefix ?? '/')}\n`);
}

main().catch(fatal);
