import { describe, expect, it } from 'vitest';
import { answerLine } from '../../src/adapters/console.js';
import { renderText } from '../../src/core/render-text.js';
import { makeBot, msg } from '../support/bot.js';

describe('plain-text renderer', () => {
  it('GIVEN a status THEN title, verdict, summary, quote and each point with its page', async () => {
    const { bot } = await makeBot();
    const text = renderText((await bot.handle(msg('/status rt'), ['/']))!);
    expect(text.split('\n')).toEqual([
      'Realtime [good]',
      'The -rt tree keeps flowing into mainline; no date for completion, but nothing blocks it: it is just a matter of doing the work.',
      'Verdict rests on: “But I see no particular blockage in getting it all merged” (p. 9)',
      '• “Important for embedded applications and some financial server-style workloads” (p. 9)',
      '• “Work from the "-rt" tree continues to be merged into mainline” (p. 9)',
      '• “I have no estimate of when this will be completed” (p. 9)',
      '• “But I see no particular blockage in getting it all merged - it is just a matter of doing the work” (p. 9)',
      '— From the talk “The state of Linux kernel development”, mid-2008',
    ]);
  });

  it('GIVEN the board THEN every topic with its verdict on one line', async () => {
    const { bot } = await makeBot();
    const text = renderText((await bot.handle(msg('/status'), ['/']))!);
    expect(text).toContain('• Filesystems [concern]: ');
    expect(text).toContain('• AIO [not rated]: ');
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(11);
  });

  it('GIVEN an answer THEN points name topic and page; GIVEN no match THEN suggestions use the prefix', async () => {
    const { bot } = await makeBot();
    expect(renderText((await bot.handle(msg('who operates linux-next?'), ['/']))!)).toContain(
      '“A GIT tree operated by Stephen Rothwell” (The linux-next tree, p. 3)',
    );
    expect(renderText((await bot.handle(msg('!status filesystem hierarchy'), ['!']))!, '!')).toMatch(/Did you mean: !status filesystems/);
  });

  it('GIVEN a console line THEN suggestions use the prefix that line typed', async () => {
    const { bot } = await makeBot();
    expect(await answerLine(bot, '!status filesystem hierarchy')).toMatch(/Did you mean: !status filesystems/);
    expect(await answerLine(bot, '/status filesystem hierarchy')).toMatch(/Did you mean: \/status filesystems/);
  });
});
