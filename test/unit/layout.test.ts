import { describe, expect, it } from 'vitest';
import { renderDiscord } from '../../src/adapters/discord/render.js';
import { renderMatrix } from '../../src/adapters/matrix/render.js';
import { layout } from '../../src/core/layout.js';
import { renderText } from '../../src/core/render-text.js';
import type { Citation, Reply } from '../../src/core/reply.js';

const fs = { topicId: 'filesystems', topicTitle: 'Filesystems' };
const point = (text: string, extra: Partial<Citation> = {}): Citation => ({ text, page: 10, ...fs, ...extra });
const status: Reply = {
  kind: 'status',
  title: 'Filesystems',
  verdict: 'concern',
  points: [point('ext3 is old'), point('ext4 is coming', { parent: 'ext3 is old' }), point('btrfs might save us')],
};

describe('one reply layout', () => {
  it('GIVEN a status with a sub-bullet THEN all three renderers indent it under its parent', () => {
    expect(
      layout(status)
        .filter((b) => b.type === 'bullet')
        .map((b) => b.depth),
    ).toEqual([0, 1, 0]);
    expect(renderText(status).split('\n').slice(1)).toEqual(['• “ext3 is old” (p. 10)', '   – “ext4 is coming” (p. 10)', '• “btrfs might save us” (p. 10)']);
    expect(renderDiscord(status).embeds[0]!.description!.split('\n')).toEqual([
      '• “ext3 is old” (p. 10)',
      '\u2003◦ “ext4 is coming” (p. 10)',
      '• “btrfs might save us” (p. 10)',
    ]);
    expect(renderMatrix(status, '!').formatted_body).toContain(
      '<ul><li>“ext3 is old” (p. 10)<ul><li>“ext4 is coming” (p. 10)</li></ul></li><li>“btrfs might save us” (p. 10)</li></ul>',
    );
  });

  it('GIVEN points from two topics in a non-answer THEN every renderer names the topic and none indents', () => {
    const mixed: Reply = {
      kind: 'status',
      title: 'Mixed',
      points: [point('ext3 is old'), point('NUMA', { topicId: 'mm', topicTitle: 'Memory', parent: 'x' })],
    };
    const lines = ['“ext3 is old” (Filesystems, p. 10)', '“NUMA” (Memory, p. 10)'];
    expect(renderText(mixed).split('\n').slice(1)).toEqual(lines.map((l) => `• ${l}`));
    expect(renderDiscord(mixed).embeds[0]!.description!.split('\n')).toEqual(lines.map((l) => `• ${l}`));
    expect(renderMatrix(mixed, '!').formatted_body).toContain(`<ul>${lines.map((l) => `<li>${l}</li>`).join('')}</ul>`);
  });

  it('GIVEN an answer THEN points name their topic even from one topic, and sub-bullets stay flat', () => {
    const answer: Reply = { ...status, kind: 'answer' };
    expect(
      layout(answer)
        .filter((b) => b.type === 'bullet')
        .map((b) => b.depth),
    ).toEqual([0, 0, 0]);
    expect(renderText(answer)).toContain('• “ext4 is coming” (Filesystems, p. 10)');
    expect(renderMatrix(answer, '!').formatted_body).toContain('<li>“ext4 is coming” (Filesystems, p. 10)</li>');
  });

  it('GIVEN notes and points THEN the notes come before the points on every platform', () => {
    const r: Reply = { ...status, lines: ['Preview of the next post'] };
    const text = renderText(r).split('\n');
    expect(text.indexOf('Preview of the next post')).toBeLessThan(text.indexOf('• “ext3 is old” (p. 10)'));
    expect(renderDiscord(r).embeds[0]!.description!.startsWith('Preview of the next post\n•')).toBe(true);
    const html = renderMatrix(r, '!').formatted_body;
    expect(html.indexOf('Preview of the next post')).toBeLessThan(html.indexOf('<ul>'));
  });
});
