import Fuse from 'fuse.js';
import type { Knowledge, Point, Topic } from './model.js';
import { normalizeKey } from './load.js';
import { Contexts, PostingsBuilder } from './postings.js';
import { TermTable, terms } from './text.js';

/** Fuse score at or below which a topic name counts as a match (0 = exact). */
const TOPIC_ACCEPT = 0.3;
/** Fuse score at or below which a topic name is offered as a suggestion. */
const TOPIC_SUGGEST = 0.6;
/** Fuzzy term correction: only words this long, and at most this Fuse score (≈ one typo in five letters). */
const FUZZY_MIN_LENGTH = 6;
const FUZZY_ACCEPT = 0.21;
/** Weight of a point's context (topic title, aliases, slide title, parent bullet) next to its own words. */
const CONTEXT_WEIGHT = 0.35;
/** BM25 parameters. */
const K1 = 1.2;
const B = 0.75;
/**
 * A topic the question names by id, title or alias ("is ext4 any good?") adds
 * this share of an IDF-like weight of the topic to each of its points, so the
 * signal keeps its strength as the corpus grows.
 */
const ALIAS_BONUS = 0.9;
/** Weight of the parts of a compound query word ("linux" and "next" of "linux-next") next to the compound. */
const PART_WEIGHT = 0.5;
/** A question whose best point scores below this is "no match". */
const MIN_SCORE = 1.2;
/** Other points are cited when they score at least this share of the best. */
const CITE_RATIO = 0.45;
/** Longest question considered: the rest is ignored. */
const MAX_QUERY_TERMS = 24;

export type TopicLookup =
  | { kind: 'match'; topic: Topic; exact: boolean }
  | { kind: 'none'; suggestions: Topic[] };

export interface PointHit {
  point: Point;
  topic: Topic;
  score: number;
}

export interface QuestionResult {
  /** Best points first (at most `limit`); empty when nothing matched. */
  hits: PointHit[];
  /** Topics offered when nothing matched. */
  suggestions: Topic[];
}

interface KeyEntry {
  key: string;
  topicId: string;
}

/**
 * The search indexes over one Knowledge, built once (at start-up or reload):
 * topic lookup (exact keys, then fuse.js over ids, titles and aliases) and
 * question answering (BM25 over an inverted index of points, with fuse.js
 * correcting misspelt words against the vocabulary).
 */
export class SearchIndex {
  private readonly exactKeys = new Map<string, Topic>();
  /** fuse.js over topic keys, one per two-letter prefix: a typo rarely hits the first two letters, and each search stays small at any scale. */
  private readonly topicBuckets: Map<string, Fuse<KeyEntry>>;
  private readonly keyEntries: KeyEntry[] = [];
  /**
   * The inverted index, flat: term → slot, and slot s's postings are the points
   * `postDoc[postStart[s] .. postStart[s + 1])` (ascending) with their term
   * frequencies in `postTf` (one pair of arrays instead of two small ones per term).
   */
  private readonly termSlot: Map<string, number>;
  private readonly postStart: Int32Array;
  private readonly postDoc: Int32Array;
  private readonly postTf: Float32Array;
  private readonly docLength: Float32Array;
  private readonly avgLength: number;
  private readonly vocabBuckets: Map<string, Fuse<string>>;
  private readonly corrections = new Map<string, { term: string; weight: number } | null>();
  private readonly scores: Float64Array;
  /** Each topic's points as indexes into `knowledge.points`. */
  private readonly topicDocs = new Map<Topic, number[]>();
  private readonly ownMatch: Uint8Array;
  private readonly stemKeys = new Map<string, Topic>();
  private readonly longestKey: number;

  constructor(readonly knowledge: Knowledge) {
    // One TermTable for the whole build: topic keys, slide titles and bullets are all tokenised through it.
    // The work is split into small per-key and per-point functions: V8 optimises those quickly and
    // steadily, where one long loop body is left to on-stack replacement and deoptimises repeatedly.
    const table = new TermTable(2 * knowledge.points.length);
    /** Each topic's id, title and aliases as term ids, in that order: the topic's share of its points' context. */
    const keyTerms = new Map<Topic, number[]>();
    let longest = 1;
    for (const t of knowledge.topics) {
      const ids: number[] = [];
      for (const key of [t.id, t.title, ...t.aliases]) longest = Math.max(longest, this.addKey(t, key, table, ids));
      keyTerms.set(t, ids);
    }
    this.longestKey = Math.min(4, longest);
    this.topicBuckets = buckets(this.keyEntries, (e) => e.key, (list) => new Fuse(list, { keys: ['key'], includeScore: true, threshold: TOPIC_SUGGEST }));

    const points = knowledge.points;
    this.scores = new Float64Array(points.length);
    this.ownMatch = new Uint8Array(points.length);
    const contexts = new Contexts(table, keyTerms);
    const postings = new PostingsBuilder(points.length, CONTEXT_WEIGHT);
    const own: number[] = [];
    points.forEach((p, i) => {
      const topic = knowledge.topicById.get(p.topicId)!;
      let docs = this.topicDocs.get(topic);
      if (!docs) this.topicDocs.set(topic, (docs = []));
      docs.push(i);
      const ctx = contexts.of(topic, p);
      own.length = 0;
      table.ids(p.text, own);
      postings.add(own, ctx, table.terms.length);
    });
    const index = postings.finish(table.terms);
    this.termSlot = index.slots;
    this.postStart = index.start;
    this.postDoc = index.doc;
    this.postTf = index.tf;
    this.docLength = index.length;
    this.avgLength = points.length ? this.docLength.reduce((a, b) => a + b, 0) / points.length : 1;

    this.vocabBuckets = buckets(
      [...this.termSlot.keys()].filter((w) => w.length >= FUZZY_MIN_LENGTH - 2 && /^\p{L}/u.test(w)),
      (w) => w,
      (words) => new Fuse(words, { includeScore: true, threshold: FUZZY_ACCEPT, ignoreLocation: true }),
    );
  }

  /**
   * Indexes one id, title or alias of a topic for exact, stemmed and fuzzy lookup; appends its
   * term ids to `ids`. Returns its number of words if it is a new exact key, else 1.
   */
  private addKey(t: Topic, key: string, table: TermTable, ids: number[]): number {
    const k = normalizeKey(key);
    let words = 1;
    if (!this.exactKeys.has(k)) {
      this.exactKeys.set(k, t);
      words = wordCount(k);
    }
    const from = ids.length;
    table.ids(key, ids);
    const stemmed = joinTerms(table.terms, ids, from); // terms(key).join(' ')
    if (stemmed && !this.stemKeys.has(stemmed)) this.stemKeys.set(stemmed, t);
    this.keyEntries.push({ key: k, topicId: t.id });
    return words;
  }

  /** `/status <query>`: exact id, title or alias first, then fuzzy; below the confidence threshold, suggestions. */
  findTopic(query: string): TopicLookup {
    const k = normalizeKey(query);
    const exact = this.exactKeys.get(k);
    if (exact) return { kind: 'match', topic: exact, exact: true };
    if (k.length === 0) return { kind: 'none', suggestions: [] };
    const ranked = this.rankTopics(k, 3);
    const best = ranked[0];
    if (best && best.score <= TOPIC_ACCEPT) return { kind: 'match', topic: best.topic, exact: false };
    return { kind: 'none', suggestions: ranked.map((r) => r.topic) };
  }

  /** Autocomplete choices for a topic option: talk order for empty input, best first otherwise. */
  completeTopics(input: string, limit = 25): Topic[] {
    const k = normalizeKey(input);
    if (k.length === 0) return this.knowledge.topics.slice(0, limit);
    const exact = this.exactKeys.get(k);
    const ranked = this.rankTopics(k, limit).map((r) => r.topic);
    return exact ? [exact, ...ranked.filter((t) => t !== exact)].slice(0, limit) : ranked;
  }

  private rankTopics(k: string, limit: number): { topic: Topic; score: number }[] {
    const seen = new Set<string>();
    const out: { topic: Topic; score: number }[] = [];
    const add = (topicId: string, score: number) => {
      if (seen.has(topicId) || out.length >= limit) return;
      seen.add(topicId);
      out.push({ topic: this.knowledge.topicById.get(topicId)!, score });
    };
    if (k.length < 2) {
      // One letter: keys that start with it, in talk order.
      for (const e of this.keyEntries) if (e.key.startsWith(k)) add(e.topicId, 0.5);
      return out;
    }
    for (const r of this.topicBuckets.get(k.slice(0, 2))?.search(k.slice(0, 64)) ?? []) add(r.item.topicId, r.score ?? 1);
    return out;
  }

  /** Free-text question: the best matching points across all topics. */
  ask(question: string, limit = 3): QuestionResult {
    const all = terms(question);
    const parts = new Set(all.filter((w) => /[.+\-_/]/.test(w)).flatMap((w) => terms(w)).filter((w) => !/[.+\-_/]/.test(w)));
    const query = [...new Set(all)].slice(0, MAX_QUERY_TERMS);
    const weighted = new Map<string, number>();
    for (const w of query) {
      const base = parts.has(w) ? PART_WEIGHT : 1;
      if (this.termSlot.has(w)) weighted.set(w, Math.max(weighted.get(w) ?? 0, base));
      else {
        const fix = this.correct(w);
        if (fix) weighted.set(fix.term, Math.max(weighted.get(fix.term) ?? 0, base * fix.weight));
      }
    }
    const n = this.knowledge.points.length;
    const scores = this.scores;
    const touched: number[] = [];
    const own = this.ownMatch;
    for (const [w, weight] of weighted) {
      const slot = this.termSlot.get(w)!;
      const from = this.postStart[slot]!;
      const to = this.postStart[slot + 1]!;
      const idf = Math.log(1 + (n - (to - from) + 0.5) / (to - from + 0.5));
      for (let j = from; j < to; j++) {
        const d = this.postDoc[j]!;
        const f = this.postTf[j]!;
        if (scores[d] === 0) touched.push(d);
        if (f >= 1) own[d] = 1;
        scores[d]! += weight * idf * ((f * (K1 + 1)) / (f + K1 * (1 - B + (B * this.docLength[d]!) / this.avgLength)));
      }
    }
    for (const topic of this.topicsNamedIn(question)) {
      const m = topic.points.length;
      const bonus = ALIAS_BONUS * Math.log(1 + (n - m + 0.5) / (m + 0.5));
      for (const d of this.topicDocs.get(topic) ?? []) {
        if (scores[d] === 0) touched.push(d);
        scores[d]! += bonus;
      }
    }
    const top: Ranked[] = [];
    for (const d of touched) {
      const score = scores[d]!;
      scores[d] = 0;
      if (score >= MIN_SCORE) insertTop(top, { d, score, own: own[d] === 1 }, limit * 3);
      own[d] = 0;
    }
    // Within a topic, cite the points whose own words matched, not those that only share its name.
    const topicOf = (r: Ranked) => this.knowledge.points[r.d]!.topicId;
    const ownTopics = new Set(top.filter((r) => r.own).map(topicOf));
    const ranked = top.filter((r) => r.own || !ownTopics.has(topicOf(r))).slice(0, limit);
    const hits = ranked.map(({ d, score }): PointHit => {
      const point = this.knowledge.points[d]!;
      return { point, topic: this.knowledge.topicById.get(point.topicId)!, score };
    });
    const best = hits[0]?.score ?? 0;
    const cited = hits.filter((h) => h.score >= best * CITE_RATIO);
    return {
      hits: cited,
      suggestions: cited.length === 0 ? this.suggestFor(question) : [],
    };
  }

  /** Topics whose id, title or alias appears word for word in the text (n-grams up to the longest key). */
  private topicsNamedIn(text: string): Set<Topic> {
    const words = normalizeKey(text).split(/[^\p{L}\p{N}.+\-_/]+/u).filter(Boolean).slice(0, 64);
    const found = new Set<Topic>();
    for (let i = 0; i < words.length; i++) {
      for (let n = 1; n <= this.longestKey && i + n <= words.length; n++) {
        const t = this.exactKeys.get(words.slice(i, i + n).join(' ')) ?? this.exactKeys.get(words.slice(i, i + n).join(' ').replace(/[?.!,:;]+$/, ''));
        if (t) found.add(t);
      }
    }
    const stems = terms(text).slice(0, 64);
    for (let i = 0; i < stems.length; i++) {
      for (let n = 1; n <= this.longestKey && i + n <= stems.length; n++) {
        const t = this.stemKeys.get(stems.slice(i, i + n).join(' '));
        if (t) found.add(t);
      }
    }
    return found;
  }

  /** Nearest vocabulary word for a misspelt one (same initial letter), with a weight that falls with distance. */
  private correct(w: string): { term: string; weight: number } | undefined {
    if (w.length < FUZZY_MIN_LENGTH || w.length > 32) return undefined;
    const cached = this.corrections.get(w);
    if (cached !== undefined) return cached ?? undefined;
    const best = this.vocabBuckets.get(w.slice(0, 2))?.search(w, { limit: 1 })[0];
    const fix = !best || (best.score ?? 1) > FUZZY_ACCEPT || Math.abs(best.item.length - w.length) > 2 ? null : { term: best.item, weight: 1 - (best.score ?? 0) * 2 };
    if (this.corrections.size > 10_000) this.corrections.clear();
    this.corrections.set(w, fix);
    return fix ?? undefined;
  }

  private suggestFor(question: string): Topic[] {
    const words = terms(question, true).filter((w) => w.length >= 2).slice(0, 4);
    const seen = new Map<Topic, number>();
    for (const w of words) {
      for (const r of this.rankTopics(w, 3)) {
        if (r.score <= 0.5) seen.set(r.topic, Math.min(seen.get(r.topic) ?? 1, r.score));
      }
    }
    return [...seen.entries()].sort((a, b) => a[1] - b[1]).slice(0, 3).map(([t]) => t);
  }
}

interface Ranked {
  d: number;
  score: number;
  /** The point's own words matched (not only its context). */
  own: boolean;
}

/** Groups items by the first two letters of their key and builds one searcher per group. */
function buckets<T, S>(items: readonly T[], key: (t: T) => string, make: (list: T[]) => S): Map<string, S> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const prefix = key(item).slice(0, 2);
    const list = groups.get(prefix);
    if (list) list.push(item);
    else groups.set(prefix, [item]);
  }
  const out = new Map<string, S>();
  for (const [prefix, list] of groups) out.set(prefix, make(list));
  return out;
}

/** Keeps `top` sorted best first (ties: talk order) with at most `limit` entries. */
function insertTop(top: Ranked[], r: Ranked, limit: number): void {
  const worse = (a: Ranked, b: Ranked) => a.score < b.score || (a.score === b.score && a.d > b.d);
  if (top.length >= limit && !worse(top[top.length - 1]!, r)) return;
  let i = top.length;
  while (i > 0 && worse(top[i - 1]!, r)) i--;
  top.splice(i, 0, r);
  if (top.length > limit) top.pop();
}

/** Words in a normalized key (they are separated by single spaces). */
function wordCount(key: string): number {
  let n = 1;
  for (let i = key.indexOf(' '); i >= 0; i = key.indexOf(' ', i + 1)) n++;
  return n;
}

/** `ids.slice(from)` as terms, joined by spaces. */
function joinTerms(terms: readonly string[], ids: readonly number[], from: number): string {
  let s = '';
  for (let j = from; j < ids.length; j++) s += j > from ? ` ${terms[ids[j]!]!}` : terms[ids[j]!]!;
  return s;
}
