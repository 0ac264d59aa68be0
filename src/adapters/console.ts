import { createInterface } from 'node:readline';
import type { Bot } from '../core/bot.js';
import type { IncomingMessage } from '../core/command.js';
import type { Reply } from '../core/reply.js';
import { splitCommand } from '../core/parse.js';
import { renderText } from '../core/render-text.js';
import type { Poster } from '../digest/port.js';

const PREFIXES = ['/', '!'];

export interface ConsoleOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Interactive prompt and history; default: whether stdin is a terminal. */
  interactive?: boolean;
}

/** The bot's answer to one console line, rendered as plain text ('' when it stays silent). */
export async function answerLine(bot: Bot, line: string): Promise<string> {
  const msg: IncomingMessage = { platform: 'console', text: line, userId: 'console', channelId: 'console', addressed: true, canManage: true, unlimited: true };
  const reply = await bot.handle(msg, PREFIXES);
  return reply ? renderText(reply, splitCommand(line, PREFIXES)?.prefix ?? '/') : '';
}

/**
 * Terminal chat: every line is addressed to the bot. Interactive on a TTY
 * (prompt, history, /quit); otherwise answers each line in order and
 * resolves at end of input.
 */
export async function runConsole(bot: Bot, opts: ConsoleOptions = {}): Promise<void> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const interactive = opts.interactive ?? Boolean((input as NodeJS.ReadStream).isTTY);
  const rl = createInterface({ input, output: interactive ? output : undefined, terminal: interactive, historySize: 200, prompt: 'kbot> ' });
  if (interactive) {
    output.write('kernel-status-bot: ask about the state of Linux kernel development.\nTry /status fs, /topics, /help, or just a question. /quit or Ctrl-D to leave.\n');
    rl.prompt();
  }
  let first = true;
  for await (const line of rl) {
    if (interactive && /^\s*[/!](quit|exit)\s*$/i.test(line)) break;
    if (line.trim() === '' && !interactive) continue;
    const text = line.trim() === '' ? '' : await answerLine(bot, line);
    if (text) {
      output.write(`${first || interactive ? '' : '\n'}${text}\n`);
      first = false;
    }
    if (interactive) rl.prompt();
  }
  rl.close();
}

/** Digests in console mode: printed like any reply. */
export function consolePoster(output: NodeJS.WritableStream = process.stdout): Poster {
  return {
    async post(_channel: string, reply: Reply) {
      output.write(`\n${renderText(reply)}\n`);
    },
  };
}
