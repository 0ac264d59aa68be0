import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { KnowledgeError, foldSpace, loadKnowledge } from '../../src/knowledge/load.js';
import { talkFileSchema } from '../../src/knowledge/schema.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { parseSeed, SEED_PATH } from '../support/seed.js';

const knowledge = loadKnowledge('knowledge');
const seed = parseSeed();

describe('knowledge: complete and faithful to the talk export', () => {
  it('GIVEN the export THEN its footers fix the pages: 17 slides, pages 2 to 18', () => {
    expect(seed.slides).toHaveLength(17);
    expect(seed.slides[0]!.title).toBe('Overview');
    // "Page 3 of 18" stands before the first linux-next slide, "Page 14 of 18" before the first OS-virtualisation slide.
    for (const f of seed.footers) expect(seed.slides[f.beforeSlide]!.page).toBe(f.page);
    expect(seed.footers.map((f) => f.page)).toEqual([3, 14]);
    expect(seed.slides.at(-1)!.page).toBe(18);
  });

  it('GIVEN every bullet and sub-bullet of the export THEN each is in the knowledge, word for word, on its page', () => {
    const overview = knowledge.talks[0]!;
    expect(overview).toBeDefined();
    const points = knowledge.points.map((p) => ({ text: foldSpace(p.text), page: p.page, sub: p.parent !== undefined }));
    let checked = 0;
    for (const slide of seed.slides.slice(1)) {
      for (const b of slide.bullets) {
        const want = foldSpace(b.text);
        const match = points.find((p) => p.text === want && p.page === slide.page && p.sub === b.sub);
        expect(match, `missing on page ${slide.page}: ${want}`).toBeDefined();
        checked++;
      }
    }
    expect(checked).toBe(knowledge.points.length);
  });

  it('GIVEN the overview slide THEN its bullets are in the talk file', () => {
    const yaml = readFileSync('knowledge/talk.yaml', 'utf8');
    for (const b of seed.slides[0]!.bullets) expect(yaml).toContain(b.text);
  });

  it('GIVEN the shared seed next to the repository THEN the fixture is a faithful copy', () => {
    let shared: string | undefined;
    try {
      shared = readFileSync(join('..', 'shared', 'seeds', '000_c9831b403f493e97.txt'), 'utf8');
    } catch {
      return; // the shared folder is not next to every checkout (e.g. the Docker build)
    }
    expect(readFileSync(SEED_PATH, 'utf8')).toBe(shared);
  });

  it('GIVEN each topic THEN it has an id, aliases, a summary and a verdict traceable to a quote on its pages', () => {
    for (const t of knowledge.topics) {
      expect(t.summary.length).toBeGreaterThan(20);
      if (t.verdict === 'unrated') continue;
      const quoted = t.points.find((p) => p.text.includes(t.verdictQuote!));
      expect(quoted, t.id).toBeDefined();
    }
    expect(knowledge.topics.map((t) => t.id)).toEqual([
      'linux-next',
      'embedded',
      'x86',
      'realtime',
      'filesystems',
      'memory-management',
      'hardware-virtualisation',
      'os-virtualisation',
      'ras',
      'aio',
      'tracing',
    ]);
  });

  it.each([
    ['fs', 'filesystems'],
    ['mm', 'memory-management'],
    ['next', 'linux-next'],
    ['rt', 'realtime'],
    ['kvm', 'hardware-virtualisation'],
    ['xen', 'hardware-virtualisation'],
    ['virtualization', 'hardware-virtualisation'],
    ['containers', 'os-virtualisation'],
    ['cgroups', 'os-virtualisation'],
    ['namespaces', 'os-virtualisation'],
    ['ras', 'ras'],
    ['dtrace', 'tracing'],
    ['systemtap', 'tracing'],
    ['FS', 'filesystems'],
    ['Memory Management', 'memory-management'],
  ])('GIVEN the alias "%s" THEN it names %s exactly', (alias, id) => {
    const r = new SearchIndex(knowledge).findTopic(alias);
    expect(r).toMatchObject({ kind: 'match', exact: true, topic: { id } });
  });
});

describe('knowledge: a broken file stops loading with file, path and reason', () => {
  const good = readFileSync('knowledge/talk.yaml', 'utf8');
  const dirWith = (content: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ksb-knowledge-'));
    writeFileSync(join(dir, 'talk.yaml'), content);
    return dir;
  };
  const failure = (content: string) => {
    try {
      loadKnowledge(dirWith(content));
    } catch (err) {
      return err as KnowledgeError;
    }
    throw new Error('expected the load to fail');
  };

  it('GIVEN invalid YAML THEN the error names the file and the line', () => {
    const err = failure(good.replace('topics:\n', 'topics:\n  - id: [unclosed\n'));
    expect(err).toBeInstanceOf(KnowledgeError);
    expect(err.file).toMatch(/talk\.yaml$/);
    expect(err.path).toMatch(/^line \d+/);
  });

  it('GIVEN a bad verdict THEN the error names topics.N.verdict', () => {
    const err = failure(good.replace('verdict: concern', 'verdict: terrible'));
    expect(err.path).toBe('topics.2.verdict');
    expect(err.message).toContain('talk.yaml at topics.2.verdict');
  });

  it('GIVEN an alias used by two topics THEN loading fails', () => {
    const err = failure(good.replace('aliases: [rt,', 'aliases: [fs, rt,'));
    expect(err.reason).toContain('"fs" already names topic');
  });

  it('GIVEN a verdict quote that is not in the bullets THEN loading fails', () => {
    const err = failure(good.replace('verdict_quote: Very little activity here', 'verdict_quote: Everything is great'));
    expect(err.path).toBe('topics.8.verdict_quote');
  });

  it('GIVEN a page beyond the deck THEN loading fails', () => {
    const err = failure(good.replace('- page: 16', '- page: 19'));
    expect(err.reason).toContain('beyond');
  });

  it("GIVEN an edit THEN the version changes, and only the edited topic's hash, which digests compare across restarts", () => {
    const before = loadKnowledge(dirWith(good));
    const again = loadKnowledge(dirWith(good));
    expect(again.version).toBe(before.version);
    // A topic's hash is the first 12 hex digits of SHA-256 over its entry as JSON: stored hashes stay valid across versions of the bot.
    const raw = (parse(good) as { topics: { id: string }[] }).topics.find((t) => t.id === 'filesystems')!;
    const fs = before.topicById.get('filesystems')!;
    expect(fs.hash).toBe(
      createHash('sha256')
        .update(JSON.stringify(talkFileSchema.parse(parse(good)).topics.find((t) => t.id === raw.id)))
        .digest('hex')
        .slice(0, 12),
    );
    const edited = loadKnowledge(dirWith(good.replace('verdict_quote: Very little activity here', 'verdict_quote: Very little activity')));
    expect(edited.version).not.toBe(before.version);
    for (const t of before.topics) expect(edited.topicById.get(t.id)!.hash === t.hash, t.id).toBe(t.id !== 'ras');
    // Talk metadata is part of the version too (a reload must pick up a new title).
    const retitled = loadKnowledge(dirWith(good.replace(/^( {2}title: .*)$/m, '$1 (revised)')));
    expect(retitled.talks[0]!.title).toMatch(/\(revised\)$/);
    expect(retitled.version).not.toBe(before.version);
  });

  it('GIVEN an empty directory THEN loading fails clearly', () => {
    expect(() => loadKnowledge(mkdtempSync(join(tmpdir(), 'ksb-empty-')))).toThrow(/no \.yaml knowledge files/);
  });
});

describe('knowledge: the glossary', () => {
  const good = readFileSync('knowledge/talk.yaml', 'utf8');
  const dirWith = (content: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ksb-glossary-'));
    writeFileSync(join(dir, 'talk.yaml'), content);
    return dir;
  };
  const failure = (content: string) => {
    try {
      loadKnowledge(dirWith(content));
    } catch (err) {
      return err as KnowledgeError;
    }
    throw new Error('expected the load to fail');
  };
  const index = good.split('\n').findIndex((l) => l.startsWith('glossary:'));
  const withEntry = (entry: string) => good.replace('glossary:\n', `glossary:\n  - ${entry}\n`);

  it('GIVEN the talk file THEN every glossary term occurs in the talk and names its topics', () => {
    expect(index).toBeGreaterThan(0);
    expect(knowledge.glossary.length).toBeGreaterThanOrEqual(40);
    const ssd = knowledge.glossary.find((g) => g.term === 'SSD')!;
    expect(ssd.topicIds).toEqual(['filesystems']);
    expect(ssd.also).toContain('solid-state disk');
  });

  it('GIVEN a term the talk does not use THEN loading fails with glossary.0.term', () => {
    const err = failure(withEntry('{ term: io_uring, also: [uring] }'));
    expect(err.path).toBe('glossary.0.term');
    expect(err.reason).toContain('does not occur in the talk');
  });

  it('GIVEN a name that already stands for another term THEN loading fails at its path', () => {
    const err = failure(withEntry('{ term: XFS, also: [solid-state disk] }'));
    expect(err.path).toMatch(/^glossary\.\d+\.also\.\d+$/);
    expect(err.reason).toContain('already stands for glossary term "XFS"');
  });

  it('GIVEN an entry without other names THEN the schema refuses it with glossary.0.also', () => {
    const err = failure(withEntry('{ term: XFS, also: [] }'));
    expect(err.path).toBe('glossary.0.also');
    expect(err.message).toContain('talk.yaml at glossary.0.also');
  });
});
