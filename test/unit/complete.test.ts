import { describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/core/command.js';
import { completeLine, optionChoices } from '../../src/core/complete.js';
import { makeBot } from '../support/bot.js';

const { bot } = await makeBot();
const complete = (line: string) => completeLine(bot, line);

describe('text completion derived from the command definitions', () => {
  it('GIVEN an empty line THEN every command; GIVEN part of a name or alias THEN it, closed with a space', () => {
    expect(complete('').completions).toEqual(bot.commands.map((c) => `/${c.name}`));
    expect(complete('/sta')).toEqual({ completions: ['/status '], word: '/sta' });
    expect(complete('!to')).toEqual({ completions: ['!topics '], word: '!to' });
    expect(complete('/bo')).toEqual({ completions: ['/board '], word: '/bo' });
    expect(complete('/a').completions.sort()).toEqual(['/about', '/ask']);
  });

  it('GIVEN a misspelt command THEN the closest one', () => {
    expect(complete('/stauts')).toEqual({ completions: ['/status '], word: '/stauts' });
    expect(complete('/zzqx').completions).toEqual([]);
  });

  it('GIVEN a topic, an alias or a typo THEN the topic (the word to replace is the one typed)', () => {
    expect(complete('/status filesy')).toEqual({ completions: ['filesystems '], word: 'filesy' });
    expect(complete('/status filesytems')).toEqual({ completions: ['filesystems '], word: 'filesytems' });
    expect(complete('/status kv')).toEqual({ completions: ['kvm '], word: 'kv' });
    expect(complete('/status topic:memr')).toEqual({ completions: ['memory-management '], word: 'memr' });
    expect(complete('!status  tracin')).toEqual({ completions: ['tracing '], word: 'tracin' });
  });

  it('GIVEN a space after a command THEN its option names and the values of its first option', () => {
    const { completions, word } = complete('/status ');
    expect(word).toBe('');
    expect(completions[0]).toBe('topic:');
    expect(completions.slice(1)).toEqual(bot.knowledge.current.knowledge.topics.map((t) => t.id));
    expect(complete('/status to')).toEqual({ completions: ['topic:'], word: 'to' });
  });

  it('GIVEN subcommands, presets and choices THEN they complete; options already given are not offered again', () => {
    expect(complete('/digest ').completions).toEqual(['subscribe', 'list', 'unsubscribe', 'preview']);
    expect(complete('/digest sub')).toEqual({ completions: ['subscribe '], word: 'sub' });
    expect(complete('/digest subscribe topics:all schedule:').completions).toEqual(['hourly', 'daily', 'weekly']);
    expect(complete('/digest subscribe schedule:wee')).toEqual({ completions: ['weekly '], word: 'wee' });
    expect(complete('/digest subscribe mode:b')).toEqual({ completions: ['board '], word: 'b' });
    expect(complete('/digest subscribe topics:fs m')).toEqual({ completions: ['mode:'], word: 'm' });
    expect(complete('/digest subscribe topics:fs,tra')).toEqual({ completions: ['tracing '], word: 'tra' });
  });

  it('GIVEN free text, an unknown command or an open quote THEN nothing', () => {
    expect(complete('what about btr').completions).toEqual([]);
    expect(complete('/ask what about btr').completions).toEqual([]);
    expect(complete('/nosuch x').completions).toEqual([]);
    expect(complete('/digest subscribe schedule:"0 9').completions).toEqual([]);
  });

  it('GIVEN a new command definition THEN its name, options and choices complete with no other code', async () => {
    const zap = defineCommand({
      name: 'zap',
      description: 'test',
      options: [
        { name: 'level', description: 'how hard', type: 'string', choices: ['low', 'high'] },
        { name: 'about', description: 'topic', type: 'string', autocomplete: 'topics' },
      ],
      examples: ['zap'],
      run: () => ({ kind: 'info', summary: 'zapped' }),
    });
    const { bot: withZap } = await makeBot({ extra: [zap] });
    expect(completeLine(withZap, '/za').completions).toEqual(['/zap ']);
    expect(completeLine(withZap, '/zap h').completions).toEqual(['high ']);
    expect(completeLine(withZap, '/zap ab').completions).toEqual(['about:']);
    expect(completeLine(withZap, '/zap high rt').completions).toEqual(['rt ']);
  });

  it('Discord autocomplete and the console rank topics with the same function', () => {
    const topic = bot.command('status')!.options![0]!;
    for (const input of ['', 'f', 'filesy', 'kvm', 'virt', 'zzqx']) expect(optionChoices(bot, topic, input)).toEqual(bot.complete(input));
  });
});
