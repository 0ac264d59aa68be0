/**
 * The peers: general-purpose search libraries over the same points and the same questions as our
 * engine, each configured the way a careful user would (fields for the point, its topic and its slide
 * title, English stop-words, stemming where the library has it, prefix and fuzzy matching), plus the
 * naive fuse.js peer. Accuracy is graded like ours (test/support/quality.ts): the top result's topic,
 * the expected point among the top three; no result counts as a decline.
 */
import { Charset, Document, Encoder } from 'flexsearch';
import EnglishPreset from 'flexsearch/lang/en';
import Fuse from 'fuse.js';
import MiniSearch from 'minisearch';
import { create, insertMultiple, search as oramaSearch } from '@orama/orama';
import { stemmer } from 'stemmer';
import { eng } from 'stopword';
import type { Knowledge } from '../../src/knowledge/model.js';
import { figures, gradeAnswer, type Figures, type LabelledQuestion } from '../support/quality.js';
import { percentile, round, settledHeapBytes } from './stats.js';

/** One point as the peers index it. */
type Doc = {
  id: number;
  text: string;
  topic: string;
  slide: string;
};

/** A built peer: answers a question with the indexes of its best points (at most three). */
export interface Peer {
  name: string;
  ask(q: string): number[] | Promise<number[]>;
}

const STOP = new Set(eng);
const CITED = 3;

function docsOf(k: Knowledge): Doc[] {
  return k.points.map((p, id) => {
    const t = k.topicById.get(p.topicId)!;
    return { id, text: p.text, topic: [t.title, ...t.aliases].join(' '), slide: p.slideTitle };
  });
}

/** MiniSearch 7: BM25+, fields with boosts (point 2, topic 1.5, slide 1), stop-words dropped, Porter stems, prefix, fuzzy 0.2. */
function miniSearch(docs: Doc[]): Peer {
  const processTerm = (term: string) => {
    const t = term.toLowerCase();
    return STOP.has(t) ? null : stemmer(t);
  };
  const ms = new MiniSearch<Doc>({
    fields: ['text', 'topic', 'slide'],
    processTerm,
    searchOptions: { boost: { text: 2, topic: 1.5, slide: 1 }, prefix: true, fuzzy: 0.2, processTerm },
  });
  ms.addAll(docs);
  return {
    name: 'minisearch',
    ask: (q) =>
      ms
        .search(q)
        .slice(0, CITED)
        .map((r) => r.id as number),
  };
}

/** Orama 3: BM25 over the three fields (point boosted 2), English stemming and stop-words, typo tolerance 1, prefix matching (its default). */
async function orama(docs: Doc[]): Promise<Peer> {
  const db = create({
    schema: { text: 'string', topic: 'string', slide: 'string', pid: 'number' } as const,
    components: { tokenizer: { stemming: true, stopWords: eng } },
  });
  await insertMultiple(
    db,
    docs.map((d) => ({ text: d.text, topic: d.topic, slide: d.slide, pid: d.id })),
    5000,
  );
  return {
    name: 'orama',
    ask: async (q) => {
      const r = await oramaSearch(db, { term: q, properties: ['text', 'topic', 'slide'], boost: { text: 2 }, tolerance: 1, limit: CITED });
      return r.hits.map((h) => h.document.pid as number);
    },
  };
}

/** FlexSearch 0.8: a Document index over the three fields, the English preset (stemmer, stop-word filter) on LatinBalance, forward (prefix) tokenising, suggestions on. */
function flexSearch(docs: Doc[]): Peer {
  const encoder = new Encoder({ ...Charset.LatinBalance, ...EnglishPreset });
  const index = new Document<Doc>({ document: { id: 'id', index: ['text', 'topic', 'slide'] }, encoder, tokenize: 'forward', resolution: 9 });
  for (const d of docs) index.add(d);
  return {
    name: 'flexsearch',
    ask: (q) => {
      const results = index.search(q, { limit: CITED, suggest: true, merge: true }) as unknown as { id: number }[];
      return results.slice(0, CITED).map((r) => r.id);
    },
  };
}

/** The peer a user would write first: one fuse.js over the points, default options, the whole question as the pattern. */
function naiveFuse(docs: Doc[]): Peer {
  const fuse = new Fuse(docs, { keys: ['text'] });
  return { name: 'fuse.js (naive)', ask: (q) => fuse.search(q, { limit: CITED }).map((r) => r.item.id) };
}

export const PEERS: { name: string; build: (docs: Doc[]) => Peer | Promise<Peer> }[] = [
  { name: 'minisearch', build: miniSearch },
  { name: 'orama', build: orama },
  { name: 'flexsearch', build: flexSearch },
  { name: 'fuse.js (naive)', build: naiveFuse },
];

export { docsOf };

/** A peer's figures on one labelled set (`/status x` is searched as `x`). */
export async function peerFigures(peer: Peer, k: Knowledge, questions: readonly LabelledQuestion[]): Promise<Figures> {
  const graded = [];
  for (const lq of questions) {
    const ids = await peer.ask(lq.q.replace(/^\/status\s+/, ''));
    graded.push(gradeAnswer(lq, { cited: ids.map((id) => ({ topicId: k.points[id]!.topicId, text: k.points[id]!.text })) }));
  }
  return figures(graded);
}

export interface PeerRow {
  peer: string;
  talks: number;
  build_ms: number;
  question_p50: number;
  question_p99: number;
  heap_mb: number;
  questions: number;
  /** At 1 talk only: accuracy on each labelled set. */
  words?: Figures;
  chat?: Figures;
}

/**
 * Every peer at one scale (the knowledge of that step): build ms, heap after a collection, question
 * p50/p99 over `questions` (fewer at large scales for the slow ones: `budgetMs` per peer), and at one
 * talk its figures on both labelled sets.
 */
export async function measurePeers(
  k: Knowledge,
  talks: number,
  questions: readonly string[],
  sets: { words: LabelledQuestion[]; chat: LabelledQuestion[] },
  budgetMs = 20_000,
): Promise<PeerRow[]> {
  const rows: PeerRow[] = [];
  const docs = docsOf(k);
  // One function call per peer: its index is garbage once the call returns (a loop's suspended async frame can
  // keep the previous peer alive into the next one's heap figure).
  for (const { name, build } of PEERS) rows.push(await measurePeer(name, build, docs, k, talks, questions, sets, budgetMs));
  return rows;
}

async function measurePeer(
  name: string,
  build: (docs: Doc[]) => Peer | Promise<Peer>,
  docs: Doc[],
  k: Knowledge,
  talks: number,
  questions: readonly string[],
  sets: { words: LabelledQuestion[]; chat: LabelledQuestion[] },
  budgetMs: number,
): Promise<PeerRow> {
  const before = await settledHeapBytes();
  const t0 = performance.now();
  const peer = await build(docs);
  const buildMs = performance.now() - t0;
  const heap = ((await settledHeapBytes()) - before) / 1024 / 1024;
  for (let i = 0; i < Math.min(20, questions.length); i++) await peer.ask(questions[i]!);
  const times: number[] = [];
  const started = performance.now();
  // Every question once (five times over at most), but a slow peer stops after its time budget and at least 5 samples.
  for (let i = 0; i < questions.length * 5 && (i < questions.length || performance.now() - started < budgetMs); i++) {
    if (performance.now() - started > budgetMs && times.length >= 5) break;
    const t = performance.now();
    await peer.ask(questions[i % questions.length]!);
    times.push(performance.now() - t);
  }
  const row: PeerRow = {
    peer: name,
    talks,
    build_ms: round(buildMs, 1),
    question_p50: round(percentile(times, 50), 4),
    question_p99: round(percentile(times, 99), 4),
    heap_mb: round(heap, 1),
    questions: times.length,
  };
  if (talks === 1) {
    row.words = await peerFigures(peer, k, sets.words);
    row.chat = await peerFigures(peer, k, sets.chat);
  }
  return row;
}
