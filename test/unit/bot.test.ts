import { describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/core/command.js';
import { makeBot, msg } from '../support/bot.js';

const P = ['/', '!'];

describe('bot core: routing', () => {
  it('GIVEN /status fs and !status fs THEN the filesystems status', async () => {
    const { bot } = await makeBot();
    for (const text of ['/status fs', '!status fs', '/status topic:fs', '/board filesystems']) {
      expect(await bot.handle(msg(text), P)).toMatchObject({ kind: 'status', title: 'Filesystems', verdict: 'concern' });
    }
  });

  it('GIVEN free text addressed to the bot THEN it is a question; not addressed THEN silence', async () => {
    const { bot } = await makeBot();
    expect(await bot.handle(msg('what is happening with btrfs?'), P)).toMatchObject({ kind: 'answer', title: 'Filesystems' });
    expect(await bot.handle(msg('what is happening with btrfs?', { addressed: false }), P)).toBeNull();
  });

  it('GIVEN an unknown command THEN a usage reply when addressed, silence otherwise (another bot may own it)', async () => {
    const { bot } = await makeBot();
    expect(await bot.handle(msg('!stauts fs'), P)).toMatchObject({ kind: 'usage', summary: expect.stringContaining('Did you mean !status?') });
    expect(await bot.handle(msg('!weather', { addressed: false }), P)).toBeNull();
  });

  it('GIVEN a multi-character prefix (kb!) THEN every reply names commands with the prefix the user typed', async () => {
    const { bot } = await makeBot();
    const kb = ['kb!'];
    expect(await bot.handle(msg('kb!ask'), kb)).toMatchObject({ kind: 'usage', lines: ['Usage: kb!ask <question>'] });
    expect(await bot.handle(msg('kb!stauts fs'), kb)).toMatchObject({
      summary: expect.stringContaining('There is no command "kb!stauts". Did you mean kb!status?'),
    });
    expect(await bot.handle(msg('  ', { addressed: true }), kb)).toMatchObject({ summary: expect.stringContaining('try kb!help') });
    const help = await bot.handle(msg('kb!help kb!status'), kb);
    expect(help).toMatchObject({
      kind: 'info',
      title: 'kb!status',
      lines: expect.arrayContaining(['Usage: kb!status [topic] [from]', 'Example: kb!status fs']),
    });
    expect(await bot.handle(msg('kb!help !status'), kb)).toMatchObject({ kind: 'info', title: 'kb!status' });
    // With both "!" and "kb!" accepted, the longer prefix wins for "kb!...".
    expect(await bot.handle(msg('kb!ask'), ['!', 'kb!'])).toMatchObject({ lines: ['Usage: kb!ask <question>'] });
  });

  it('GIVEN a malformed command line THEN a usage reply for that command', async () => {
    const { bot } = await makeBot();
    const r = await bot.handle(msg('/ask'), P);
    expect(r).toMatchObject({ kind: 'usage', lines: ['Usage: /ask <question>'] });
  });

  it('GIVEN nonsense or an empty question THEN a friendly no-match, never a random topic', async () => {
    const { bot } = await makeBot();
    const r = await bot.handle(msg('/status zzqxjvvq'), P);
    expect(r).toMatchObject({ kind: 'no-match', summary: 'No topic matches “zzqxjvvq”.' });
    expect(r!.points).toBeUndefined();
    expect(await bot.handle(msg('   '), P)).toMatchObject({ kind: 'usage' });
  });

  it('GIVEN control characters THEN they are dropped before routing', async () => {
    const { bot } = await makeBot();
    expect(await bot.handle(msg('/sta\u0000tus\u0007 f\u001bs'), P)).toMatchObject({ kind: 'status', title: 'Filesystems' });
  });

  it('GIVEN a message over the input cap THEN a short reply, no search', async () => {
    const { bot } = await makeBot({ maxInputChars: 100 });
    expect(await bot.handle(msg('x'.repeat(5000)), P)).toMatchObject({ kind: 'error', summary: expect.stringContaining('5,000 characters') });
  });
});

describe('bot core: guarantees', () => {
  const boom = defineCommand({
    name: 'boom',
    description: 'fails',
    examples: [],
    run: () => {
      throw new Error('kaput');
    },
  });

  it('GIVEN a handler that throws THEN a short reply and exactly one error log line', async () => {
    const { bot, lines } = await makeBot({ extra: [boom] });
    const r = await bot.handle(msg('/boom'), P);
    expect(r).toMatchObject({ kind: 'error', private: true });
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ command: 'boom', msg: 'command failed', err: { message: 'kaput' } });
  });

  it('GIVEN any handled message THEN one log line with command, outcome and latency', async () => {
    const { bot, lines } = await makeBot();
    await bot.handle(msg('/status zzqxjvvq'), P);
    expect(lines.filter((l) => l.msg === 'handled')).toEqual([expect.objectContaining({ command: 'status', outcome: 'no-match', ms: expect.any(Number) })]);
  });

  it('GIVEN a manager-only command THEN others are refused', async () => {
    const gated = defineCommand({ name: 'gated', description: 'd', examples: [], permission: 'manager', run: () => ({ kind: 'info', summary: 'done' }) });
    const { bot } = await makeBot({ extra: [gated] });
    expect(await bot.handle(msg('/gated', { canManage: false }), P)).toMatchObject({ kind: 'denied', private: true });
    expect(await bot.handle(msg('/gated', { canManage: true }), P)).toMatchObject({ kind: 'info', summary: 'done' });
  });
});

describe('bot core: rate limit', () => {
  it('GIVEN a burst over the limit THEN one "slow down", then silence, and other users still get answers', async () => {
    const { bot } = await makeBot({ rateLimit: { burst: 3, perMinute: 1 } });
    const kinds = [];
    for (let i = 0; i < 10; i++) kinds.push((await bot.handle(msg('/status fs'), P))?.kind ?? null);
    expect(kinds).toEqual(['status', 'status', 'status', 'rate-limited', null, null, null, null, null, null]);
    expect(await bot.handle(msg('/status fs', { userId: 'u2' }), P)).toMatchObject({ kind: 'status' });
  });

  it('GIVEN the local operator THEN no limit applies', async () => {
    const { bot } = await makeBot({ rateLimit: { burst: 1, perMinute: 1 } });
    for (let i = 0; i < 5; i++) expect(await bot.handle(msg('/topics', { unlimited: true }), P)).toMatchObject({ kind: 'topics' });
  });
});
