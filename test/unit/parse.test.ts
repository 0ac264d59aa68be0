import { describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/core/command.js';
import { parseArgs, splitCommand, tokenize } from '../../src/core/parse.js';

const status = defineCommand({
  name: 'status',
  description: 'd',
  examples: [],
  options: [{ name: 'topic', description: 'd', type: 'string' }],
  run: () => ({ kind: 'info' }),
});
const digest = defineCommand({
  name: 'digest',
  description: 'd',
  examples: [],
  subcommands: [
    {
      name: 'subscribe',
      description: 'd',
      options: [
        { name: 'topics', description: 'd', type: 'string', required: true },
        { name: 'schedule', description: 'd', type: 'string', required: true },
        { name: 'timezone', description: 'd', type: 'string' },
        { name: 'mode', description: 'd', type: 'string', choices: ['rotate', 'board'] },
      ],
    },
    { name: 'unsubscribe', description: 'd', options: [{ name: 'id', description: 'd', type: 'string', required: true }] },
  ],
  run: () => ({ kind: 'info' }),
});
const limit = defineCommand({
  name: 'limit',
  description: 'd',
  examples: [],
  options: [
    { name: 'n', description: 'd', type: 'integer', required: true },
    { name: 'flag', description: 'd', type: 'boolean' },
  ],
  run: () => ({ kind: 'info' }),
});

describe('router: command lines', () => {
  it('GIVEN /cmd or !cmd THEN name and rest; GIVEN free text THEN undefined', () => {
    expect(splitCommand('/status fs', ['/', '!'])).toEqual({ prefix: '/', name: 'status', rest: 'fs' });
    expect(splitCommand('  !STATUS   memory management ', ['/', '!'])).toEqual({ prefix: '!', name: 'status', rest: 'memory management' });
    expect(splitCommand('what about btrfs?', ['/', '!'])).toBeUndefined();
    expect(splitCommand('!', ['!'])).toEqual({ prefix: '!', name: '', rest: '' });
    expect(splitCommand('kb!ask btrfs?', ['!', 'kb!'])).toEqual({ prefix: 'kb!', name: 'ask', rest: 'btrfs?' });
  });

  it('GIVEN quotes THEN they group words, also inside name:value', () => {
    expect(tokenize('topics:fs,mm schedule:"0 9 * * 1" mode:rotate')).toEqual(['topics:fs,mm', 'schedule:0 9 * * 1', 'mode:rotate']);
    expect(tokenize('a \'b c\' "" d')).toEqual(['a', 'b c', '', 'd']);
    expect(tokenize('unclosed "quote runs on')).toEqual(['unclosed', 'quote runs on']);
  });
});

describe('router: binding options from the definitions', () => {
  it('GIVEN positional words THEN the last string option takes the rest of the line', () => {
    expect(parseArgs(status, 'memory management')).toEqual({ ok: true, args: { subcommand: undefined, topic: 'memory management' } });
  });

  it('GIVEN name:value THEN it binds like Discord shows it', () => {
    expect(parseArgs(status, 'topic:fs')).toMatchObject({ ok: true, args: { topic: 'fs' } });
  });

  it('GIVEN an unknown name: prefix THEN it is plain text', () => {
    expect(parseArgs(status, 'note:fs')).toMatchObject({ ok: true, args: { topic: 'note:fs' } });
  });

  it('GIVEN a subcommand with pairs and positionals THEN all bind', () => {
    expect(parseArgs(digest, 'subscribe topics:all schedule:"0 9 * * 1" mode:rotate')).toEqual({
      ok: true,
      args: { subcommand: 'subscribe', topics: 'all', schedule: '0 9 * * 1', mode: 'rotate' },
    });
    expect(parseArgs(digest, 'subscribe fs "0 9 * * 1" Europe/Berlin board')).toMatchObject({
      ok: true,
      args: { topics: 'fs', schedule: '0 9 * * 1', timezone: 'Europe/Berlin', mode: 'board' },
    });
  });

  it.each([
    ['', /a subcommand is needed/],
    ['explode', /unknown subcommand "explode"/],
    ['subscribe topics:fs', /option "schedule" is required/],
    ['subscribe fs daily UTC weekly', /must be one of: rotate, board/],
    ['unsubscribe id:a id:b', /given twice/],
  ])('GIVEN "digest %s" THEN a usage error %s', (rest, error) => {
    const r = parseArgs(digest, rest);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });

  it('GIVEN typed options THEN integers and booleans are checked', () => {
    expect(parseArgs(limit, '12 yes')).toMatchObject({ ok: true, args: { n: 12, flag: true } });
    expect(parseArgs(limit, 'twelve')).toMatchObject({ ok: false, error: 'option "n" must be a whole number' });
    expect(parseArgs(limit, '1 maybe')).toMatchObject({ ok: false, error: 'option "flag" must be true or false' });
    expect(parseArgs(limit, '1 yes extra')).toMatchObject({ ok: false, error: 'unexpected text "extra"' });
  });

  it('GIVEN a value over the length cap THEN a usage error, not a crash', () => {
    expect(parseArgs(status, `topic:${'x'.repeat(600)}`)).toMatchObject({ ok: false });
  });
});
