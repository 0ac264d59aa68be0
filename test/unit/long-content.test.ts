/**
 * Long content: a bullet past the schema's limit stops loading with file and path; a reply cut by a renderer
 * points to a command that shows the rest (the next points), not back to the same reply.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderDiscord } from '../../src/adapters/discord/render.js';
import { renderMatrix } from '../../src/adapters/matrix/render.js';
import { KnowledgeError, loadKnowledge } from '../../src/knowledge/load.js';
import { MAX_BULLET_CHARS } from '../../src/knowledge/schema.js';
import { makeBot, msg } from '../support/bot.js';

/** The repository's talk with one bullet of `chars` characters in the filesystems topic, in a temporary directory. */
function knowledgeWithLongBullet(chars: number): string {
  const data = parse(readFileSync('knowledge/talk.yaml', 'utf8'));
  const fs = data.topics.findIndex((t: { id: string }) => t.id === 'filesystems');
  data.topics[fs].slides[0].bullets.splice(1, 0, { text: `A long bullet ${'x'.repeat(chars - 14)}` });
  const dir = mkdtempSync(join(tmpdir(), 'ksb-long-'));
  writeFileSync(join(dir, 'talk.yaml'), stringify(data));
  return dir;
}

describe('bullet length limit', () => {
  it('GIVEN a 100 KB bullet THEN loading fails naming the file, the path and the limit', () => {
    const dir = knowledgeWithLongBullet(100_000);
    let err: unknown;
    try {
      loadKnowledge(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KnowledgeError);
    expect((err as Error).message).toMatch(/talk\.yaml at topics\.\d+\.slides\.0\.bullets\.1\.text: a bullet is at most 500 characters/);
  });

  it('GIVEN a bullet at the limit THEN it loads', () => {
    expect(() => loadKnowledge(knowledgeWithLongBullet(MAX_BULLET_CHARS))).not.toThrow();
  });
});

describe('a cut reply points to the rest', () => {
  it('GIVEN a topic too long for one Discord or Matrix reply THEN the pointer names /status <topic> from:<next>, and following it shows the next points until the end', async () => {
    // Many bullets at the limit: far more than one Discord embed (4,096 characters) holds.
    const data = parse(readFileSync('knowledge/talk.yaml', 'utf8'));
    const fs = data.topics.find((t: { id: string }) => t.id === 'filesystems');
    for (let i = 0; i < 30; i++) fs.slides[0].bullets.push({ text: `Extra ${String(i).padStart(2, '0')} ${'y'.repeat(MAX_BULLET_CHARS - 9)}` });
    const dir = mkdtempSync(join(tmpdir(), 'ksb-long-'));
    writeFileSync(join(dir, 'talk.yaml'), stringify(data));
    const { KnowledgeBase } = await import('../../src/knowledge/base.js');
    const { bot } = await makeBot({ knowledge: new KnowledgeBase(dir), rateLimit: { burst: 1000, perMinute: 1000 } });
    const total = loadKnowledge(dir).topicById.get('filesystems')!.points.length;

    const seen = new Set<string>();
    let command = 'status filesystems';
    for (let part = 0; part < 20; part++) {
      const reply = (await bot.handle(msg(`/${command}`), ['/']))!;
      expect(reply.kind).toBe('status');
      const description = renderDiscord(reply).embeds[0]!.description!;
      for (const l of description.split('\n')) if (l.startsWith('• ') || l.startsWith('\u2003◦')) seen.add(l);
      const pointer = /… (\d+) more: see \/(status filesystems from:(\d+))$/.exec(description);
      if (!pointer) break;
      expect(pointer[2]).not.toBe(command); // never back to the same reply
      command = pointer[2]!;
    }
    expect(seen.size).toBe(total); // every point shown once, over the parts

    // Matrix cuts far later (64 KiB), with the same kind of pointer.
    const big = (await bot.handle(msg('/status filesystems'), ['/']))!;
    const many = { ...big, points: Array.from({ length: 200 }, () => big.points!).flat() };
    expect(renderMatrix(many, '!').body).toMatch(/… \d+ more: see !status filesystems from:\d+/);
  });

  it('GIVEN from: past the last point THEN a usage reply, not an empty one', async () => {
    const { bot } = await makeBot();
    const reply = await bot.handle(msg('/status filesystems from:999'), ['/']);
    expect(reply).toMatchObject({ kind: 'usage', summary: expect.stringMatching(/from must be 1 to \d+/) });
  });
});
