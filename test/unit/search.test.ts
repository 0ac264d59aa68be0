import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldSpace, loadKnowledge } from '../../src/knowledge/load.js';
import { mayMatchCased, pointFeatures } from '../../src/knowledge/intent.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { stemmer } from 'stemmer';
import { TermTable } from '../../src/knowledge/term-table.js';
import { normalizeKey, stemOf, terms, words } from '../../src/knowledge/text.js';
import { accuracy, loadQuestions } from '../support/quality.js';

const search = new SearchIndex(loadKnowledge('knowledge'));

describe('answer quality on the labelled question set', () => {
  it('GIVEN at least 60 labelled questions THEN top-1 topic accuracy is at least 95%', () => {
    const questions = loadQuestions();
    expect(questions.length).toBeGreaterThanOrEqual(60);
    const kinds = new Set(questions.map((q) => q.kind));
    for (const k of ['alias', 'typo', 'spelling', 'natural', 'single-bullet', 'nonsense']) expect(kinds).toContain(k);
    const r = accuracy(search, questions);
    const failed = r.graded.filter((g) => !g.ok).map((g) => `${g.q} → ${g.got}`);
    console.log(
      `answer quality: top-1 accuracy ${r.accuracy.toFixed(1)}% over ${questions.length} questions${failed.length ? `; misses: ${failed.join(' | ')}` : ''}`,
    );
    expect(r.accuracy).toBeGreaterThanOrEqual(95);
  });
});

describe('topic lookup', () => {
  it.each([
    ['filesytems', 'filesystems'],
    ['memry', 'memory-management'],
    ['tracin', 'tracing'],
    ['virtualisation', 'hardware-virtualisation'],
    ['os virtualization', 'os-virtualisation'],
  ])('GIVEN the typo or spelling "%s" THEN it finds %s', (q, id) => {
    expect(search.findTopic(q)).toMatchObject({ kind: 'match', topic: { id } });
  });

  it('GIVEN nonsense THEN no match, never a random topic', () => {
    expect(search.findTopic('zzqxjvvq').kind).toBe('none');
    expect(search.findTopic('').kind).toBe('none');
    expect(search.findTopic('x'.repeat(5000)).kind).toBe('none');
  });

  it('GIVEN a near miss THEN no topic but up to three suggestions, the nearest first', () => {
    const r = search.findTopic('filesystem hierarchy');
    expect(r.kind).toBe('none');
    const ids = r.kind === 'none' ? r.suggestions.map((t) => t.id) : [];
    expect(ids[0]).toBe('filesystems');
    expect(ids.length).toBeLessThanOrEqual(3);
  });

  it('GIVEN an empty autocomplete input THEN every topic in talk order; GIVEN a typo THEN the best first', () => {
    expect(search.completeTopics('').map((t) => t.id)).toEqual(search.knowledge.topics.map((t) => t.id));
    expect(search.completeTopics('filesy')[0]!.id).toBe('filesystems');
    expect(search.completeTopics('kvm')[0]!.id).toBe('hardware-virtualisation');
    expect(search.completeTopics('e', 3).length).toBeLessThanOrEqual(3);
  });
});

describe('questions', () => {
  it('GIVEN a btrfs question THEN the btrfs bullets come back with topic and page', () => {
    const r = search.ask('what does the talk say about btrfs?');
    expect(r.hits[0]!.topic.id).toBe('filesystems');
    expect(r.hits.map((h) => h.point.text).join(' ')).toContain('btrfs will save us');
    expect(r.hits.every((h) => h.point.page === 11)).toBe(true);
    expect(r.hits.length).toBeLessThanOrEqual(3);
  });

  it('GIVEN only stop-words THEN nothing matches', () => {
    expect(search.ask('what does the talk say about?').hits).toEqual([]);
    expect(search.ask('').hits).toEqual([]);
  });

  it('GIVEN stop-word phrasing around a keyword THEN the keyword decides', () => {
    const plain = search.ask('kprobes').hits[0]!.point.id;
    expect(search.ask('what does the talk say about kprobes?').hits[0]!.point.id).toBe(plain);
  });

  it('GIVEN 5,000 characters of junk THEN no match and no throw', () => {
    let junk = '';
    for (let i = 0; junk.length < 5000; i++) junk += `${String.fromCharCode(97 + ((i * 7) % 26))}${i % 9 === 0 ? ' ' : ''}`;
    expect(search.ask(junk).hits).toEqual([]);
  });
});

describe('index tokeniser', () => {
  // The index build tokenises through TermTable (a fast path for ASCII text); questions go through terms().
  it('GIVEN any text THEN TermTable gives exactly the terms() of it', () => {
    const table = new TermTable();
    // Texts and names have tables of their own words; a word gets the same term id in either.
    let name = false;
    const same = (text: string) => {
      name = !name;
      const ids = table.ids(text, [], name);
      expect(
        ids.map((id) => table.terms[id]),
        JSON.stringify(text),
      ).toEqual(terms(text));
      expect(table.ids(text, [], !name), JSON.stringify(text)).toEqual(ids);
    };
    for (const p of search.knowledge.points) same(p.text);
    for (const t of search.knowledge.topics) same([t.id, t.title, ...t.aliases].join(' '));
    const ascii = [
      'Realised: the organisation, otherwise-raised rising 2.6.27',
      'ISATION ise ised ising',
      'ext4_FS/XFS',
      'a..b a.-b -c- x+y',
      'RAISE_x ise2 rise-2',
    ];
    for (const text of [...ascii, "don't", 'the organisation’s plans', 'ΟΔΟΣ café ﬁle', '']) same(text);
    // Plain ASCII takes the fast path; a quote or a non-ASCII character the general one.
    const letters = fc.constantFrom(...'aeisdgnotz09 .+-/_AIS'.split(''), '\t', "'", '’', 'é');
    fc.assert(
      fc.property(fc.string({ unit: letters, maxLength: 40 }), (text) => {
        same(text);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (text) => {
        same(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('GIVEN words of names and of texts THEN termOf gives the term of exactly the words as written', () => {
    const unit = fc.constantFrom(...'aeisdnrt049'.split(''));
    const word = fc.string({ unit, minLength: 1, maxLength: 9 });
    const text = fc
      .array(
        fc.oneof(
          word,
          fc.tuple(word, word).map(([x, y]) => `${x}-${y}`),
        ),
        { maxLength: 6 },
      )
      .map((w) => w.join(' '));
    fc.assert(
      fc.property(fc.array(fc.tuple(text, fc.boolean()), { maxLength: 8 }), fc.array(word, { maxLength: 10 }), (texts, probes) => {
        const table = new TermTable();
        // A word as written has a term when terms() makes exactly one of it (not a stop-word, not a compound of several).
        const written = new Map<string, string | undefined>();
        for (const [t, name] of texts) {
          table.ids(t, [], name);
          for (const w of words(t)) written.set(w, terms(w).length === 1 ? terms(w)[0] : undefined);
        }
        for (const w of [...written.keys(), ...probes]) expect(table.termOf(w), w).toBe(written.get(w));
      }),
      { numRuns: 1000 },
    );
    const table = new TermTable();
    table.ids('ext4 x86-64 Schedulers', [], true);
    expect([table.termOf('ext4'), table.termOf('schedulers'), table.termOf('x86'), table.termOf('schedul')]).toEqual(['ext4', 'schedul', undefined, undefined]);
  });

  it('GIVEN any text THEN the tokeniser rules out the case-sensitive intent patterns only where none can match', () => {
    const table = new TermTable();
    const unit = fc.constantFrom(...'ae sR M12%.-'.split(''), 'vendors', 'distros', 'distributors', 'Ubuntu', 'Linus Torvalds', '42', 'é', "'");
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (text) => {
        table.scan(text);
        expect(pointFeatures(text, '', mayMatchCased(text, table.capitalOrDigit)), text).toBe(pointFeatures(text));
      }),
      { numRuns: 3000 },
    );
    // Lower-case text without digits or those words skips them: the prefilter does cut work.
    table.scan('merged into the mainline soon');
    expect(mayMatchCased('merged into the mainline soon', table.capitalOrDigit)).toBe(false);
  });

  it('GIVEN 60,000 distinct words THEN each keeps its one term id while the tables grow', () => {
    const table = new TermTable();
    const word = (i: number) => `q${i}z${'x'.repeat(i % 11)}`; // short and long ones (never stemmed: digits)
    const first = Array.from({ length: 60_000 }, (_, i) => table.ids(word(i), [], i % 2 === 0)[0]!);
    expect(new Set(first).size).toBe(60_000);
    expect(table.terms).toHaveLength(60_000);
    for (let i = 0; i < 60_000; i++) expect(table.ids(word(i), [], i % 3 === 0)[0]).toBe(first[i]);
  });

  it('GIVEN any word THEN stemOf stems exactly the words of more than three letters', () => {
    const units = fc.constantFrom(...'aeisdgnotzAIS09-@[`{'.split(''), 'é', 'Ω', '\u0301', '一');
    fc.assert(
      fc.property(fc.string({ unit: units, maxLength: 12 }), (w) => {
        expect(stemOf(w), JSON.stringify(w)).toBe(w.length > 3 && /^\p{L}+$/u.test(w) ? stemmer(w) : w);
      }),
      { numRuns: 3000 },
    );
  });

  // Keys and bullets take fast paths (plain ASCII keys; text already folded); these are the general rules.
  const generalKey = (s: string) =>
    s
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[“”"'’`]/g, '')
      .replace(/[\s_]+/g, ' ')
      .replace(/is(ation|e|ed|ing)\b/g, 'iz$1')
      .trim();
  const generalFold = (s: string) => s.replace(/\s+/g, ' ').trim();

  it('GIVEN any text THEN normalizeKey and foldSpace follow their general rules', () => {
    const units = fc.constantFrom(
      ...'aeisdgnotzAIS09 .-_/"\'`~'.split(''),
      '  ',
      '\t',
      '\n',
      '\v',
      '\u00a0',
      '\u0085',
      '\u1680',
      '\u2028',
      '\u3000',
      '\ufeff',
      '’',
      'é',
      'ﬁ',
    );
    fc.assert(
      fc.property(fc.string({ unit: units, maxLength: 30 }), (text) => {
        expect(normalizeKey(text), JSON.stringify(text)).toBe(generalKey(text));
        expect(foldSpace(text), JSON.stringify(text)).toBe(generalFold(text));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 30 }), (text) => {
        expect(normalizeKey(text), JSON.stringify(text)).toBe(generalKey(text));
        expect(foldSpace(text), JSON.stringify(text)).toBe(generalFold(text));
      }),
      { numRuns: 5000 },
    );
    for (const t of search.knowledge.topics) for (const key of [t.id, t.title, ...t.aliases]) expect(normalizeKey(key)).toBe(generalKey(key));
  });
});
