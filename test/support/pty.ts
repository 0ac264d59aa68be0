import { spawn, type IPty } from '@lydell/node-pty';
import { stripVTControlCharacters } from 'node:util';

/**
 * A program on a real pseudo-terminal: what it writes is collected (escape codes included) and
 * keys are typed into it. Waits poll the output until a condition holds; nothing sleeps.
 */
export class Terminal {
  /** Everything written to the terminal so far, raw. */
  raw = '';
  readonly exited: Promise<number>;
  private readonly pty: IPty;

  constructor(args: string[], env: NodeJS.ProcessEnv, size = { cols: 100, rows: 40 }) {
    this.pty = spawn(process.execPath, args, {
      name: 'xterm-256color',
      cols: size.cols,
      rows: size.rows,
      cwd: process.cwd(),
      env: env as Record<string, string>,
    });
    this.pty.onData((d) => (this.raw += d));
    this.exited = new Promise((resolve) => this.pty.onExit((e) => resolve(e.exitCode)));
  }

  /** The output without escape codes. */
  get text(): string {
    return stripVTControlCharacters(this.raw);
  }

  /** A position in the output, to wait for what comes after it. */
  mark(): number {
    return this.raw.length;
  }

  /** Types `keys` (one write: readline completes on a Tab only when it ends a write). */
  type(keys: string): void {
    this.pty.write(keys);
  }

  /** Resolves with the text after `from` once it matches `what`; rejects with what was seen after `ms`. */
  async waitFor(what: string | RegExp, from = 0, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const seen = stripVTControlCharacters(this.raw.slice(from));
      if (typeof what === 'string' ? seen.includes(what) : what.test(seen)) return seen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(what)}; the terminal shows:\n${seen}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Types `keys` and waits for `what` to appear after them. */
  async typeAndWait(keys: string, what: string | RegExp): Promise<string> {
    const from = this.mark();
    this.type(keys);
    return this.waitFor(what, from);
  }

  kill(): void {
    try {
      this.pty.kill();
    } catch {
      // already gone
    }
  }
}
