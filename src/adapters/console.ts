import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import type { Logger } from 'pino';
import type { Bot } from '../core/bot.js';
import type { IncomingMessage } from '../core/command.js';
import { completeLine } from '../core/complete.js';
import type { Reply } from '../core/reply.js';
import { splitCommand } from '../core/parse.js';
import { PLAIN, renderText, type TextStyle } from '../core/render-text.js';
import type { Poster } from '../digest/port.js';
import { HISTORY_LINES, loadHistory, saveHistory } from './console/history.js';
import { addReverseSearch } from './console/search.js';

const PREFIXES = ['/', '!'];
const PROMPT = 'kbot> ';
const BANNER = [
  'kernel-status-bot: ask about the state of Linux kernel development.',
  'Try /status fs, /topics, /help, or just a question. Tab completes, Up recalls.',
  '/quit or Ctrl-D to leave.',
];
const QUIT_HINT = '(To quit, press Ctrl-C again or Ctrl-D, or type /quit.)';

export interface ConsoleOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Interactive prompt, completion and history; default: whether stdin is a terminal. */
  interactive?: boolean;
  /** Where interactive history is kept across sessions (e.g. DATA_DIR/console-history); none: not kept. */
  historyFile?: string;
  /** Colour in interactive mode; default: {@link wantsColor} of the output. */
  color?: boolean;
  /** For problems with the history file. */
  logger?: Logger;
}

/** The bot's answer to one console line, rendered as text ('' when it stays silent). */
export async function answerLine(bot: Bot, line: string, style: TextStyle = PLAIN): Promise<string> {
  const msg: IncomingMessage = {
    platform: 'console',
    text: line,
    userId: 'console',
    channelId: 'console',
    addressed: true,
    canManage: true,
    isAdmin: true,
    unlimited: true,
  };
  const reply = await bot.handle(msg, PREFIXES);
  return reply ? renderText(reply, splitCommand(line, PREFIXES)?.prefix ?? '/', style) : '';
}

/**
 * Terminal chat: every line is addressed to the bot. On a terminal it is a small REPL: prompt, Tab
 * completion from the command definitions, history kept in `historyFile`, colour, answers wrapped
 * at the terminal's width, digests posted between prompts. With piped input it answers each line in
 * order, in plain text, and {@link run} resolves at end of input.
 */
export class ConsoleSession implements Poster {
  private readonly output: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  private style: TextStyle = PLAIN;
  /** Wraps at the terminal's width; loaded with the interactive session only (piped input starts faster). */
  private wrap?: (text: string, width: number) => string;
  private rl?: Interface;
  private busy = false;
  private historyFailed = false;

  constructor(
    private readonly bot: Bot,
    private readonly opts: ConsoleOptions = {},
  ) {
    this.output = opts.output ?? process.stdout;
  }

  /** Reads lines until end of input, `/quit`, Ctrl-D or a second Ctrl-C. */
  async run(): Promise<void> {
    const input = this.opts.input ?? process.stdin;
    if (!(this.opts.interactive ?? Boolean((input as NodeJS.ReadStream).isTTY))) return this.runPiped(input);
    const [{ colorStyle, wantsColor }, { wrapText }] = await Promise.all([import('./console/style.js'), import('./console/wrap.js')]);
    this.style = colorStyle(this.opts.color ?? wantsColor(this.output));
    this.wrap = wrapText;
    const rl = createInterface({
      input,
      output: this.output,
      terminal: true,
      prompt: PROMPT,
      history: this.loadHistory(),
      historySize: HISTORY_LINES,
      removeHistoryDuplicates: true,
      completer: (line: string): [string[], string] => {
        const c = completeLine(this.bot, line, PREFIXES);
        return [c.completions, c.word];
      },
    });
    this.rl = rl;
    addReverseSearch(rl, PROMPT);
    rl.on('history', (h: string[]) => this.saveHistory(h));
    let quitting = false;
    let warned = false;
    rl.on('SIGINT', () => {
      if (rl.line.length > 0) {
        rl.write(null, { ctrl: true, name: 'e' });
        rl.write(null, { ctrl: true, name: 'u' });
        warned = false;
        return;
      }
      if (warned) {
        quitting = true;
        this.output.write('\n');
        rl.close();
        return;
      }
      warned = true;
      this.output.write(`\n${QUIT_HINT}\n`);
      rl.prompt();
    });
    rl.on('close', () => {
      if (!quitting) this.output.write('\n'); // Ctrl-D: the shell's prompt starts on a line of its own
    });
    this.output.write(`${this.fit(BANNER.join('\n'))}\n`);
    rl.prompt();
    for await (const line of rl) {
      warned = false;
      if (/^\s*[/!](quit|exit)\s*$/i.test(line)) {
        quitting = true;
        break;
      }
      this.busy = true;
      const text = line.trim() === '' ? '' : await answerLine(this.bot, line, this.style);
      this.busy = false;
      if (text) this.output.write(`${this.fit(text)}\n\n`);
      rl.prompt();
    }
    this.rl = undefined;
    rl.close();
  }

  /** Posts a digest into the conversation under a short header, then redraws the prompt and what was typed. */
  async post(_channelId: string, reply: Reply): Promise<void> {
    const rl = this.rl;
    if (!rl) {
      this.output.write(`\n${renderText(reply)}\n`);
      return;
    }
    const now = new Date();
    const time = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
    clearLine(this.output, 0);
    cursorTo(this.output, 0);
    this.output.write(`${this.style.cite(`── digest · ${time} ──`)}\n${this.fit(renderText(reply, '/', this.style))}\n\n`);
    if (!this.busy) rl.prompt(true);
  }

  private async runPiped(input: NodeJS.ReadableStream): Promise<void> {
    const rl = createInterface({ input, terminal: false });
    let first = true;
    for await (const line of rl) {
      if (line.trim() === '') continue;
      const text = await answerLine(this.bot, line);
      if (text) {
        this.output.write(`${first ? '' : '\n'}${text}\n`);
        first = false;
      }
    }
    rl.close();
  }

  /** Wraps at the terminal's current width (not when the output is not a terminal). */
  private fit(text: string): string {
    return this.wrap && this.output.isTTY && this.output.columns ? this.wrap(text, this.output.columns) : text;
  }

  private loadHistory(): string[] {
    if (!this.opts.historyFile) return [];
    try {
      return loadHistory(this.opts.historyFile);
    } catch (err) {
      this.opts.logger?.warn({ err, file: this.opts.historyFile }, 'console history not readable; starting without it');
      return [];
    }
  }

  private saveHistory(history: string[]): void {
    if (!this.opts.historyFile || this.historyFailed) return;
    try {
      saveHistory(this.opts.historyFile, history);
    } catch (err) {
      this.historyFailed = true; // said once, not after every line
      this.opts.logger?.warn({ err, file: this.opts.historyFile }, 'console history not saved');
    }
  }
}
