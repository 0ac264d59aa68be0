import { escapeMarkdown } from 'discord.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitLines, LIMITS, md, messageBody, renderChoices, renderDiscord } from '../../src/adapters/discord/render.js';
import { slashCommands } from '../../src/adapters/discord/commands.js';
import { loadCommands } from '../../src/core/registry.js';
import type { Reply } from '../../src/core/reply.js';
import { embedSize } from '../support/discord.js';

describe('Discord renderer', () => {
  it('GIVEN a reply with 200 long points THEN it is cut at a point boundary within every limit, with a pointer', () => {
    const reply: Reply = {
      kind: 'status',
      title: 'T'.repeat(300),
      verdict: 'concern',
      summary: 'S'.repeat(500),
      more: 'status filesystems',
      footer: 'F'.repeat(3000),
      points: Array.from({ length: 200 }, (_, i) => ({ text: `point ${i} ${'x'.repeat(90)}`, page: 3, topicId: 'fs', topicTitle: 'Filesystems' })),
    };
    const { embeds, allowed_mentions } = messageBody(reply);
    const e = embeds[0]!;
    expect(allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(e.title!.length).toBeLessThanOrEqual(LIMITS.embedTitle);
    expect(e.description!.length).toBeLessThanOrEqual(LIMITS.embedDescription);
    expect(e.footer!.text.length).toBeLessThanOrEqual(LIMITS.footer);
    expect(embedSize(e)).toBeLessThanOrEqual(LIMITS.embedTotal);
    const lines = e.description!.split('\n');
    expect(lines.at(-1)).toMatch(/^… \d+ more: see \/status filesystems$/);
    // every kept point line is whole
    for (const l of lines.slice(1, -1)) expect(l).toMatch(/^• “point \d+ x{90}” \(p\. 3\)$/);
  });

  it('GIVEN a board of 40 rows THEN at most 25 fields, the last pointing on', () => {
    const reply: Reply = {
      kind: 'board',
      title: 'Status board',
      more: 'status <topic>',
      rows: Array.from({ length: 40 }, (_, i) => ({ topicId: `t${i}`, title: `Topic ${i}`, verdict: 'good' as const, summary: 'y'.repeat(2000) })),
    };
    const e = renderDiscord(reply).embeds[0]!;
    expect(e.fields!.length).toBeLessThanOrEqual(LIMITS.fields);
    for (const f of e.fields!) expect(f.value.length).toBeLessThanOrEqual(LIMITS.fieldValue);
    expect(e.fields!.at(-1)!.name).toMatch(/^… \d+ more$/);
    expect(embedSize(e)).toBeLessThanOrEqual(LIMITS.embedTotal);
  });

  it('GIVEN user text with Markdown and mentions THEN it is escaped and mentions stay disabled', () => {
    const { embeds, allowed_mentions } = messageBody(
      { kind: 'no-match', summary: 'No topic matches “**@everyone** <@&123>”.' },
      { replyTo: '9', ephemeral: true },
    );
    expect(embeds[0]!.description).toContain('\\*\\*@everyone\\*\\*');
    expect(allowed_mentions).toEqual({ parse: [], replied_user: false });
  });

  it('GIVEN any text THEN md escapes exactly like escapeMarkdown (its fast path skips only text it would not change)', () => {
    const chars = fc.constantFrom(...'\\`*_~|<>:/ahttps#-1.[]()@ \n“”'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: chars, maxLength: 60 })), (s) => md(s) === escapeMarkdown(s)),
      { numRuns: 2000 },
    );
    expect(md('ext4 is *old* and __slow__, see https://x_y')).toBe(escapeMarkdown('ext4 is *old* and __slow__, see https://x_y'));
  });

  it('GIVEN fitLines with nothing that fits THEN only the pointer', () => {
    expect(fitLines(['a'.repeat(50)], 30, 0, (n) => `… ${n} more`)).toBe('… 1 more');
  });

  it('GIVEN 40 choices with long names THEN 25 choices of at most 100 characters', () => {
    const c = renderChoices(Array.from({ length: 40 }, (_, i) => ({ name: `${i}${'n'.repeat(150)}`, value: `v${i}` })));
    expect(c).toHaveLength(25);
    expect(Math.max(...c.map((x) => x.name.length))).toBe(100);
  });
});

describe('slash command registrations', () => {
  it('GIVEN the command definitions THEN one registration each, with autocomplete on status topic and hide on reply commands', async () => {
    const defs = await loadCommands();
    const body = slashCommands(defs);
    expect(body.map((c) => c.name).sort()).toEqual(defs.map((d) => d.name).sort());
    const status = body.find((c) => c.name === 'status')!;
    expect(status.options).toEqual([
      { type: 3, name: 'topic', description: expect.any(String), required: false, max_length: 100, autocomplete: true },
      { type: 4, name: 'from', description: expect.any(String), required: false },
      { type: 5, name: 'hide', description: 'Only you see the answer', required: false },
    ]);
    const ask = body.find((c) => c.name === 'ask')!;
    expect(ask.options![0]).toMatchObject({ type: 3, name: 'question', required: true });
    for (const c of body) expect(c.description!.length).toBeLessThanOrEqual(100);
  });
});
