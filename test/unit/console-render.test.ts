import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { colorStyle, wantsColor } from '../../src/adapters/console/style.js';
import { loadHistory, saveHistory } from '../../src/adapters/console/history.js';
import { wrapText } from '../../src/adapters/console/wrap.js';
import { renderText } from '../../src/core/render-text.js';
import { boardReply, statusReply } from '../../src/core/views.js';
import { terminalLogLevel } from '../../src/log.js';
import { makeBot } from '../support/bot.js';

const { bot } = await makeBot();
const k = bot.knowledge.current.knowledge;
const replies = [...k.topics.map((t) => statusReply(k, t)), boardReply(k, k.topics)];
const words = (s: string) => s.split(/\s+/).filter(Boolean);

describe('console colour', () => {
  it('GIVEN colour THEN the same text as plain, with verdicts coloured by meaning, titles bold, citations dim', () => {
    const style = colorStyle(true);
    for (const r of replies) expect(stripVTControlCharacters(renderText(r, '/', style))).toBe(renderText(r));
    const fs = renderText(statusReply(k, k.topicById.get('filesystems')!), '/', style);
    expect(fs.split('\n')[0]).toBe('\x1b[1mFilesystems\x1b[22m \x1b[31m[concern]\x1b[39m');
    expect(fs).toContain('\x1b[2m(p. 10)\x1b[22m');
    const board = renderText(boardReply(k, k.topics), '/', style);
    for (const [v, code] of [
      ['[good]', 32],
      ['[mixed]', 33],
      ['[concern]', 31],
      ['[not rated]', 90],
    ] as const)
      expect(board).toContain(`\x1b[${code}m${v}\x1b[39m`);
    expect(renderText(replies[0]!, '/', colorStyle(false))).toBe(renderText(replies[0]!));
  });

  it('GIVEN the environment THEN NO_COLOR wins, FORCE_COLOR forces (0 turns off), else a terminal that is not dumb', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(wantsColor(tty, {})).toBe(true);
    expect(wantsColor(pipe, {})).toBe(false);
    expect(wantsColor(tty, { TERM: 'dumb' })).toBe(false);
    expect(wantsColor(tty, { NO_COLOR: '1' })).toBe(false);
    expect(wantsColor(tty, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false);
    expect(wantsColor(tty, { NO_COLOR: '' })).toBe(true);
    expect(wantsColor(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(wantsColor(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(wantsColor(tty, { FORCE_COLOR: 'false' })).toBe(false);
  });
});

describe('console wrapping', () => {
  it('GIVEN every reply at several widths THEN no line is wider, nothing is lost, no word is split that fits, bullets hang, pages stay whole', () => {
    for (const width of [24, 50, 80]) {
      for (const r of replies) {
        for (const style of [colorStyle(false), colorStyle(true)]) {
          const text = renderText(r, '/', style);
          const wrapped = wrapText(text, width);
          const lines = stripVTControlCharacters(wrapped).split('\n');
          for (const l of lines) expect([...l].length).toBeLessThanOrEqual(width);
          const [got, want] = [words(stripVTControlCharacters(wrapped)), words(stripVTControlCharacters(text))];
          expect(got.join('')).toBe(want.join('')); // nothing lost
          if (width >= 40) expect(got).toEqual(want); // and no word cut (at 24 columns a 24-letter word must be)
          for (const l of lines) expect(l).not.toMatch(/\bp\.$|^\s*p\. \d/); // "p. 10" whole, and with the topic before it
          // A continuation line is indented under its bullet's text, so a bullet starts only where a point starts.
          const bullets = (s: string) => s.split('\n').filter((l) => /^(• |\s+– )/.test(l)).length;
          expect(bullets(stripVTControlCharacters(wrapped))).toBe(bullets(stripVTControlCharacters(text)));
        }
      }
    }
  });

  it('GIVEN a bullet longer than the line THEN its continuation lines are indented under its text', () => {
    const wrapped = wrapText(
      '• “one two three four five six seven eight nine ten eleven” (p. 10)\n   – “alpha beta gamma delta epsilon zeta eta theta” (p. 11)',
      30,
    );
    expect(wrapped.split('\n')).toEqual([
      '• “one two three four five six',
      '  seven eight nine ten eleven”',
      '  (p. 10)',
      '   – “alpha beta gamma delta',
      '     epsilon zeta eta theta”',
      '     (p. 11)',
    ]);
    expect(wrapText('short line', 80)).toBe('short line');
  });
});

describe('console history', () => {
  it('GIVEN more lines than the bound THEN the newest 1,000 are kept, oldest first in the file, newest first when loaded', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ksb-hist-')), 'sub', 'console-history');
    expect(loadHistory(file)).toEqual([]);
    const newestFirst = Array.from({ length: 1005 }, (_, i) => `/status ${1004 - i}`);
    saveHistory(file, newestFirst);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(1000);
    expect(lines[0]).toBe('/status 5');
    expect(lines.at(-1)).toBe('/status 1004');
    expect(loadHistory(file)).toEqual(newestFirst.slice(0, 1000));
  });

  it('GIVEN a longer file written by hand THEN only its last 1,000 lines load; blank lines are skipped, trailing spaces dropped', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ksb-hist-')), 'console-history');
    writeFileSync(file, `${Array.from({ length: 1200 }, (_, i) => `line ${i}`).join('\n')}\n\n`);
    const h = loadHistory(file);
    expect(h).toHaveLength(1000);
    expect(h[0]).toBe('line 1199');
    saveHistory(file, ['/status fs  ', '', '/topics']);
    expect(readFileSync(file, 'utf8')).toBe('/topics\n/status fs\n');
  });
});

describe('log level at the console prompt', () => {
  it('GIVEN no LOG_LEVEL THEN warn; GIVEN one THEN it', () => {
    expect(terminalLogLevel('info', {})).toBe('warn');
    expect(terminalLogLevel('info', { LOG_LEVEL: 'info' })).toBe('info');
    expect(terminalLogLevel('debug', { LOG_LEVEL: 'debug' })).toBe('debug');
  });
});
