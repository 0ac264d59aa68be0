import Fuse from 'fuse.js';
import { isCommonWord, isLemma, synonymsOf } from './lexicon.js';
import type { Knowledge, Point, Topic } from './model.js';
import { Contexts, PostingsBuilder } from './postings.js';
import { intentsOf, pointFeatures } from './intent.js';
import { normalizeKey, oneEditAway, surfaceTerms, TermTable, terms, type SurfaceTerm } from './text.js';

/** Fuse score at or below which a topic name counts as a match (0 = exact). */
const TOPIC_ACCEPT = 0.3;
/** Fuse score at or below which a topic name is offered as a suggestion. */
const TOPIC_SUGGEST = 0.6;
/** Weight of a word found one edit away from a misspelt one. */
const TYPO_WEIGHT = 0.8;
/** Unknown words of one question that get a typo fix (the rest are left unknown). */
const MAX_CORRECTIONS = 6;
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
/** Weight of a glossary term found through one of its other names ("solid-state disk" → SSD). */
const GLOSSARY_WEIGHT = 0.9;
/** Weight of a WordNet synonym of a question word that the talk does not use ("runs" → operated). */
const SYNONYM_WEIGHT = 0.35;
/** A synonym is searched only if the talk uses it in few topics: a generic synonym ("continue", "place") adds noise and cost, not meaning. */
const SYNONYM_MIN_SPECIFICITY = 0.5;
/** A point that carries what the question asks for (a person, a number, a time, a reason, a state) scores this much more. */
const INTENT_BOOST = 0.6;
/** Share of a matching point's score that a point carrying the question's intent on the same slide receives (divided by their distance). */
const ADJACENT_SHARE = 0.5;
/** A known question word at least this specific (topic specificity × weight) is a subject the talk covers. */
const STRONG = 0.75;
/** How far on a slide (in points) adjacency reaches. */
const ADJACENT_REACH = 3;
/** Points cited per subject in a two-subject answer. */
const PER_SUBJECT = 2;

export type TopicLookup =
  | { kind: 'match'; topic: Topic; exact: boolean }
  | { kind: 'none'; suggestions: Topic[] };

export interface PointHit {
  point: Point;
  topic: Topic;
  score: number;
  /** In a two-subject answer: the subject (as the asker wrote it) this point answers. */
  label?: string;
}

export interface QuestionResult {
  /** Best points first (at most `limit`); empty when nothing matched. */
  hits: PointHit[];
  /** Topics offered when nothing matched. */
  suggestions: Topic[];
  /** Query words that were understood (after stop-words), for logs and debugging. */
  terms: string[];
  /** The subject of the question, as the asker wrote it, when the talk does not cover it (then `hits` is empty). */
  uncovered?: string;
}

/** One word of a question as typed, with its search terms. */
interface Token {
  text: string;
  /** `text` normalized (normalizeKey). */
  key: string;
  /** Its terms with the words they come from. */
  parts: SurfaceTerm[];
  /** Its position among the question's words (stop-words included): adjacent words differ by one. */
  at: number;
  stems: string[];
  /** Some of its terms (or a glossary name it is part of) are in the talk's vocabulary, after typo and synonym expansion. */
  known: boolean;
  /** Share of the vocabulary's largest IDF that its best known term carries (0–1): how specific the match is. */
  weight: number;
}

/** A question taken apart: weighted terms, its words, what it asks for and the topics it names. */
interface Analysis {
  weighted: Map<string, number>;
  tokens: Token[];
  intents: number;
  named: Set<Topic>;
  /** Spans of `tokens` that name a topic (for two-subject labels). */
  spans: { topic: Topic; from: number; to: number }[];
}

interface GlossaryPhrase {
  /** The stems of the term the phrase stands for. */
  term: string[];
  /** Number of stems in the phrase. */
  length: number;
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
  private readonly corrections = new Map<string, { term: string; weight: number } | null>();
  private readonly typoOfCommon = new Map<string, boolean>();
  /** The build's term table: the talk's words as written, for typo fixes. */
  private readonly table: TermTable;
  /** Compound terms by their letters alone ("underrepresented" → "under-represented"). */
  private readonly joinedCompounds = new Map<string, string>();
  private readonly scores: Float64Array;
  /** Each topic's points as indexes into `knowledge.points`. */
  private readonly topicDocs = new Map<Topic, number[]>();
  private readonly ownMatch: Uint8Array;
  private readonly stemKeys = new Map<string, Topic>();
  private readonly longestKey: number;
  /** Glossary names as stem sequences (joined by spaces) → the term's stems. */
  private readonly glossary = new Map<string, GlossaryPhrase>();
  private readonly longestPhrase: number;
  /** Per topic: the glossary names that look it up. */
  private readonly glossaryKeys = new Map<Topic, string[]>();
  /** Per point: the intents it answers (bit mask of INTENTS). */
  private readonly features: Uint8Array;
  /** Per point: its slide, numbered across the knowledge (a slide's points are contiguous). */
  private readonly slideOf: Int32Array;
  /** Per term slot: how many topics use the term. */
  private readonly topicSpread: Int32Array;
  private readonly bonus: Float64Array;

  constructor(readonly knowledge: Knowledge) {
    // One TermTable for the whole build: topic keys, slide titles and bullets are all tokenised through it.
    // The work is split into small per-key and per-point functions: V8 optimises those quickly and
    // steadily, where one long loop body is left to on-stack replacement and deoptimises repeatedly.
    const table = (this.table = new TermTable(2 * knowledge.points.length));
    /** Each topic's id, title and aliases as term ids, in that order: the topic's share of its points' context. */
    const keyTerms = new Map<Topic, number[]>();
    let longest = 1;
    for (const t of knowledge.topics) {
      const ids: number[] = [];
      for (const key of [t.id, t.title, ...t.aliases]) longest = Math.max(longest, this.addKey(t, key, table, ids));
      keyTerms.set(t, ids);
    }
    let longestPhrase = 1;
    for (const g of knowledge.glossary) {
      const term = terms(g.term);
      const named = this.stemKeys.get(term.join(' '));
      for (const name of g.also) {
        const stems = terms(name);
        if (stems.length === 0) continue;
        const key = stems.join(' ');
        if (!this.glossary.has(key)) this.glossary.set(key, { term, length: stems.length });
        longestPhrase = Math.max(longestPhrase, stems.length);
        if (named) longest = Math.max(longest, this.addGlossaryKey(named, name, key));
      }
    }
    this.longestPhrase = Math.min(6, longestPhrase);
    this.longestKey = Math.min(4, longest);
    this.topicBuckets = buckets(this.keyEntries, (e) => e.key, (list) => new Fuse(list, { keys: ['key'], includeScore: true, threshold: TOPIC_SUGGEST }));

    const points = knowledge.points;
    this.scores = new Float64Array(points.length);
    this.bonus = new Float64Array(points.length);
    this.features = new Uint8Array(points.length);
    this.slideOf = new Int32Array(points.length);
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
      this.features[i] = pointFeatures(p.text, p.slideTitle);
      const prev = points[i - 1];
      this.slideOf[i] = i === 0 ? 0 : this.slideOf[i - 1]! + (prev!.topicId === p.topicId && prev!.page === p.page && prev!.slideTitle === p.slideTitle ? 0 : 1);
    });
    const index = postings.finish(table.terms);
    this.termSlot = index.slots;
    this.postStart = index.start;
    this.postDoc = index.doc;
    this.postTf = index.tf;
    this.docLength = index.length;
    this.avgLength = points.length ? this.docLength.reduce((a, b) => a + b, 0) / points.length : 1;
    this.topicSpread = this.spreadOf(points);
    for (const term of this.termSlot.keys()) if (/^[a-z]+([-/][a-z]+)+$/.test(term)) this.joinedCompounds.set(term.replace(/[-/]/g, ''), term);

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

  /** A glossary name of a term that names a topic ("solid-state disk" for SSD) also names the topic, unless it names another one. */
  private addGlossaryKey(t: Topic, name: string, stemmed: string): number {
    const k = normalizeKey(name);
    if (this.exactKeys.has(k) || this.stemKeys.has(stemmed)) return 1;
    this.exactKeys.set(k, t);
    this.stemKeys.set(stemmed, t);
    this.keyEntries.push({ key: k, topicId: t.id });
    const names = this.glossaryKeys.get(t);
    if (names) names.push(name);
    else this.glossaryKeys.set(t, [name]);
    return wordCount(k);
  }

  /** Per term slot, the number of topics whose points use it (points of a topic are contiguous). */
  private spreadOf(points: readonly Point[]): Int32Array {
    const spread = new Int32Array(this.postStart.length);
    for (let slot = 0; slot + 1 < this.postStart.length; slot++) {
      let last: string | undefined;
      let n = 0;
      for (let j = this.postStart[slot]!; j < this.postStart[slot + 1]!; j++) {
        const topic = points[this.postDoc[j]!]!.topicId;
        if (topic !== last) n++;
        last = topic;
      }
      spread[slot] = n;
    }
    return spread;
  }

  private idf(df: number): number {
    const n = this.knowledge.points.length;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /** The glossary's other names that look `topic` up (for /topics). */
  glossaryNames(topic: Topic): string[] {
    return this.glossaryKeys.get(topic) ?? [];
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

  /**
   * Free-text question: the best matching points across all topics. A question whose subject the
   * talk does not cover gets no points and names that subject (`uncovered`); a question about two
   * subjects ("ext4 or XFS?") gets points for each, labelled.
   */
  ask(question: string, limit = 3): QuestionResult {
    const a = this.analyze(question);
    const uncovered = this.uncoveredSubject(a);
    if (uncovered !== undefined) {
      const top = this.rank(a, limit);
      // The topics of the points its other words match, if any (never a fuzzy search: a decline stays cheap).
      const suggestions = [...new Set(top.map((h) => h.topic))].slice(0, 3);
      return { hits: [], suggestions, terms: [...a.weighted.keys()], uncovered };
    }
    const pair = this.twoSubjects(question, a);
    if (pair) return { hits: pair, suggestions: [], terms: [...a.weighted.keys()] };
    const hits = this.rank(a, limit);
    return { hits, suggestions: hits.length === 0 ? this.suggestFor(question) : [], terms: [...a.weighted.keys()] };
  }

  /** Takes a question apart: its words, their terms and weights (own words, glossary names, typo fixes, synonyms), its intents and the topics it names. */
  private analyze(question: string): Analysis {
    const tokens: Token[] = [];
    const words = question.slice(0, 2000).match(TOKEN) ?? [];
    for (let at = 0; at < words.length; at++) {
      const text = words[at]!;
      const parts = surfaceTerms(text);
      if (parts.length > 0) tokens.push({ text, key: normalizeKey(text), at, parts, stems: parts.map((p) => p.term), known: false, weight: 0 });
      if (tokens.length >= MAX_QUERY_TERMS) break;
    }
    const weighted = new Map<string, number>();
    const give = (term: string, weight: number, token: Token) => {
      weighted.set(term, Math.max(weighted.get(term) ?? 0, weight));
      token.known = true;
      token.weight = Math.max(token.weight, weight * this.specificity(term));
    };
    this.applyGlossary(tokens, give);
    let corrections = 0;
    for (const token of tokens) {
      if (token.known) continue;
      const compound = token.parts.length > 1 && token.parts[1]!.part;
      const joined = this.joinedCompounds.get(token.text.toLowerCase());
      if (joined) give(joined, 1, token);
      let partsKnown = true;
      for (const { surface, term, part } of token.parts) {
        const base = part ? PART_WEIGHT : 1;
        const before = weighted.size;
        if (this.termSlot.has(term)) give(term, base, token);
        else {
          // A dictionary word is not a typo: it gets synonyms; anything else gets a typo fix (a few per question).
          const fix = isCommonWord(surface) || corrections >= MAX_CORRECTIONS ? undefined : this.correct(surface);
          if (!isCommonWord(surface)) corrections++;
          if (fix) give(fix.term, base * fix.weight, token);
          else for (const syn of synonymsOf(term)) if (this.termSlot.has(syn) && this.specificity(syn) >= SYNONYM_MIN_SPECIFICITY) give(syn, base * SYNONYM_WEIGHT, token);
        }
        if (part && weighted.size === before && !this.termSlot.has(term)) partsKnown = false;
      }
      // A compound is known when it is, or when all its parts are ("linux-next"; not "risc-v").
      if (compound && !this.termSlot.has(token.stems[0]!) && !joined && !partsKnown) token.known = false;
    }
    const { named, spans } = this.topicsNamedIn(tokens);
    return { weighted, tokens, intents: intentsOf(question), named, spans };
  }

  /** Glossary names in the question ("solid-state disks"): their words are known, and the term's terms are searched. */
  private applyGlossary(tokens: Token[], give: (term: string, weight: number, token: Token) => void): void {
    if (this.glossary.size === 0) return;
    const seq: { stem: string; token: Token }[] = [];
    for (const token of tokens) for (const stem of token.stems) seq.push({ stem, token });
    for (let i = 0; i < seq.length; i++) {
      for (let n = Math.min(this.longestPhrase, seq.length - i); n >= 1; n--) {
        let key = seq[i]!.stem;
        for (let j = 1; j < n; j++) key += ` ${seq[i + j]!.stem}`;
        const phrase = this.glossary.get(key);
        if (!phrase) continue;
        for (let j = 0; j < n; j++) for (const t of phrase.term) if (this.termSlot.has(t)) give(t, GLOSSARY_WEIGHT, seq[i + j]!.token);
        i += n - 1;
        break;
      }
    }
  }

  /**
   * How specific a vocabulary term is to few topics, 0–1: log(topics / topics using it) / log(topics).
   * Words the talk uses everywhere ("kernel", "support", "work") come near 0.
   */
  private specificity(term: string): number {
    const slot = this.termSlot.get(term);
    if (slot === undefined) return 0;
    const t = this.knowledge.topics.length;
    return t < 2 ? 1 : Math.log(t / Math.max(1, this.topicSpread[slot]!)) / Math.log(t);
  }

  /**
   * The decline rule. The question's subject is not in the talk when (a) a word that is not
   * everyday English (a name or a technical term: "io_uring", "Wayland") has no match in the
   * vocabulary after typo, glossary and synonym expansion; or (b) the question names no topic and
   * the words it has in common with the talk weigh less than the words it has not (each known word
   * counts by its IDF share, so generic words such as "kernel" or "support" count little). Returns
   * the subject as typed: the run of words around the unknown ones.
   */
  private uncoveredSubject(a: Analysis): string | undefined {
    const unknown = a.tokens.filter((t) => !t.known);
    const specific = unknown.filter((t) => t.stems.length > 1 || !this.everyday(t.text));
    if (specific.length > 0) return subjectText(a.tokens, specific);
    if (a.named.size > 0) return undefined;
    const unrelated = this.unrelatedPair(a.tokens);
    if (unrelated) return unrelated;
    if (unknown.length === 0) return undefined;
    const knownMass = a.tokens.reduce((m, t) => m + (t.known ? t.weight : 0), 0);
    const strong = a.tokens.some((t) => t.weight >= STRONG);
    return strong && knownMass >= unknown.length ? undefined : subjectText(a.tokens, unknown);
  }

  /**
   * Two adjacent question words that the talk uses, but never together in one point (or its
   * context): a compound subject of its own ("device tree"), not one the talk covers.
   */
  private unrelatedPair(tokens: readonly Token[]): string | undefined {
    for (let i = 0; i + 1 < tokens.length; i++) {
      const x = tokens[i]!;
      const y = tokens[i + 1]!;
      if (y.at !== x.at + 1 || x.stems.length !== 1 || y.stems.length !== 1) continue;
      const sx = this.termSlot.get(x.stems[0]!);
      const sy = this.termSlot.get(y.stems[0]!);
      if (sx === undefined || sy === undefined || sx === sy) continue;
      if (!this.cooccur(sx, sy)) return `${x.text} ${y.text}`;
    }
    return undefined;
  }

  /** Whether some point is in both postings lists (both are ascending). */
  private cooccur(a: number, b: number): boolean {
    let i = this.postStart[a]!;
    let j = this.postStart[b]!;
    const ie = this.postStart[a + 1]!;
    const je = this.postStart[b + 1]!;
    while (i < ie && j < je) {
      const x = this.postDoc[i]!;
      const y = this.postDoc[j]!;
      if (x === y) return true;
      if (x < y) i++;
      else j++;
    }
    return false;
  }

  /**
   * "ext4 or XFS?", "KVM vs Xen": when each side of the connector names a topic, each side is
   * answered on its own and its points are labelled with what it names.
   */
  private twoSubjects(question: string, whole: Analysis): PointHit[] | undefined {
    if (whole.spans.length < 2) return undefined;
    const m = CONNECTOR.exec(question);
    if (!m) return undefined;
    const sides = [question.slice(0, m.index), question.slice(m.index + m[0].length)];
    const out: PointHit[][] = [];
    for (const side of sides) {
      const a = this.analyze(side);
      const span = a.spans[0];
      if (!span) return undefined;
      a.intents = whole.intents;
      const label = a.tokens.slice(span.from, span.to).map((t) => t.text).join(' ');
      out.push(this.rank(a, PER_SUBJECT).map((h) => ({ ...h, label })));
    }
    const [left, right] = out as [PointHit[], PointHit[]];
    if (left.length === 0 || right.length === 0) return undefined;
    const hits: PointHit[] = [];
    for (let i = 0; i < PER_SUBJECT; i++) {
      for (const h of [left[i], right[i]]) if (h && !hits.some((x) => x.point === h.point)) hits.push(h);
    }
    return hits;
  }

  /** BM25 over the weighted terms, the named-topic bonus, then intent and adjacency; the best points. */
  private rank(a: Analysis, limit: number): PointHit[] {
    const n = this.knowledge.points.length;
    const scores = this.scores;
    const touched: number[] = [];
    const own = this.ownMatch;
    for (const [w, weight] of a.weighted) {
      const slot = this.termSlot.get(w)!;
      const from = this.postStart[slot]!;
      const to = this.postStart[slot + 1]!;
      const idf = this.idf(to - from);
      for (let j = from; j < to; j++) {
        const d = this.postDoc[j]!;
        const f = this.postTf[j]!;
        if (scores[d] === 0) touched.push(d);
        if (f >= 1) own[d] = 1;
        scores[d]! += weight * idf * ((f * (K1 + 1)) / (f + K1 * (1 - B + (B * this.docLength[d]!) / this.avgLength)));
      }
    }
    for (const topic of a.named) {
      const m = topic.points.length;
      const bonus = ALIAS_BONUS * Math.log(1 + (n - m + 0.5) / (m + 0.5));
      for (const d of this.topicDocs.get(topic) ?? []) {
        if (scores[d] === 0) touched.push(d);
        scores[d]! += bonus;
      }
    }
    if (a.intents !== 0) this.applyIntents(a.intents, touched, a.named);
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
    const best = ranked[0]?.score ?? 0;
    return ranked
      .filter((r) => r.score >= best * CITE_RATIO)
      .map(({ d, score }): PointHit => {
        const point = this.knowledge.points[d]!;
        return { point, topic: this.knowledge.topicById.get(point.topicId)!, score };
      });
  }

  /**
   * A point that carries what the question asks for gets INTENT_BOOST more (among the named
   * topics' points, if the question names any), and a share of the score of matching points on its
   * slide (the bullet after "people keep doing Y" often says why).
   */
  private applyIntents(intents: number, touched: number[], named: ReadonlySet<Topic>): void {
    const { scores, bonus, features, slideOf, ownMatch } = this;
    const n = scores.length;
    const receivers: number[] = [];
    for (let i = 0, len = touched.length; i < len; i++) {
      const d = touched[i]!;
      if (ownMatch[d] !== 1) continue;
      for (let e = Math.max(0, d - ADJACENT_REACH); e <= Math.min(n - 1, d + ADJACENT_REACH); e++) {
        if (e === d || slideOf[e] !== slideOf[d] || (features[e]! & intents) === 0) continue;
        const share = (ADJACENT_SHARE * scores[d]!) / Math.abs(e - d);
        if (bonus[e] === 0) receivers.push(e);
        bonus[e] = Math.max(bonus[e]!, share);
      }
    }
    for (const e of receivers) {
      if (scores[e] === 0) touched.push(e);
      scores[e]! += bonus[e]!;
      bonus[e] = 0;
    }
    // When the question names topics, what it asks for is looked for among their points only.
    const topicIds = named.size ? new Set([...named].map((t) => t.id)) : undefined;
    for (const d of touched) {
      if ((features[d]! & intents) !== 0 && (!topicIds || topicIds.has(this.knowledge.points[d]!.topicId))) scores[d]! *= 1 + INTENT_BOOST;
    }
  }

  /** Topics the question names by id, title, alias or a glossary name of one (n-grams up to the longest key), with where. */
  private topicsNamedIn(tokens: readonly Token[]): { named: Set<Topic>; spans: Analysis['spans'] } {
    const named = new Set<Topic>();
    const spans: Analysis['spans'] = [];
    for (let i = 0; i < tokens.length; i++) {
      // The longest n-gram from i that names a topic, its keys built word by word.
      let key = '';
      let stems = '';
      let found: { topic: Topic; n: number } | undefined;
      for (let n = 1; n <= this.longestKey && i + n <= tokens.length; n++) {
        const t = tokens[i + n - 1]!;
        key = n === 1 ? t.key : `${key} ${t.key}`;
        stems = n === 1 ? t.stems.join(' ') : `${stems} ${t.stems.join(' ')}`;
        const topic = this.exactKeys.get(key) ?? this.stemKeys.get(stems);
        if (topic) found = { topic, n };
      }
      if (!found) continue;
      named.add(found.topic);
      spans.push({ topic: found.topic, from: i, to: i + found.n });
      i += found.n - 1;
    }
    return { named, spans };
  }

  /**
   * The vocabulary term of a misspelt word (`surface` as typed): a word of the
   * talk one edit away (letters only, at least four; of several, the most frequent term), else the
   * nearest term by fuse.js (same two first letters, six letters or more), with a weight that falls
   * with distance.
   */
  private correct(surface: string): { term: string; weight: number } | undefined {
    if (surface.length < 4 || surface.length > 32) return undefined;
    const cached = this.corrections.get(surface);
    if (cached !== undefined) return cached ?? undefined;
    let fix: { term: string; weight: number } | null = null;
    if (/^[a-z]+$/.test(surface)) {
      let bestDf = 0;
      for (const v of oneEditAway(surface)) {
        const t = this.table.termOf(v);
        const slot = t === undefined ? undefined : this.termSlot.get(t);
        if (slot === undefined) continue;
        const df = this.postStart[slot + 1]! - this.postStart[slot]!;
        if (df > bestDf) {
          bestDf = df;
          fix = { term: t!, weight: TYPO_WEIGHT };
        }
      }
    }
    if (this.corrections.size > 10_000) this.corrections.clear();
    this.corrections.set(surface, fix);
    return fix ?? undefined;
  }

  /** Whether a word is everyday English, or a typo of it (a letter missing, extra or swapped: a wrong letter makes too many names look like words). */
  private everyday(word: string): boolean {
    const w = normalizeKey(word);
    if (isCommonWord(w)) return true;
    if (w.length < 6 || !/^[a-z]+$/.test(w)) return false;
    let typo = this.typoOfCommon.get(w);
    if (typo === undefined) {
      typo = oneEditAway(w, false).some(isLemma);
      if (this.typoOfCommon.size > 10_000) this.typoOfCommon.clear();
      this.typoOfCommon.set(w, typo);
    }
    return typo;
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

/** A word as typed: letters and digits, joined by `. _ + - / '` ("io_uring", "checkpatch.pl", "what's"). */
const TOKEN = /[\p{L}\p{N}]+(?:[._+\-/'’][\p{L}\p{N}]+)*/gu;
/** What joins the two subjects of "ext4 or XFS?", "KVM vs Xen", "ext3 versus btrfs". */
const CONNECTOR = /\s(?:or|vs\.?|versus|compared (?:to|with))\s/i;

/**
 * The subject as typed: the run of adjacent question words (at most three) around the unknown
 * words in `wanted`; of several runs, the one with the most unknown words (ties: the last).
 */
function subjectText(tokens: readonly Token[], wanted: readonly Token[]): string {
  let best: readonly Token[] = [];
  let bestUnknown = 0;
  for (let i = 0; i < tokens.length; ) {
    let j = i + 1;
    while (j < tokens.length && tokens[j]!.at === tokens[j - 1]!.at + 1) j++;
    const run = tokens.slice(i, j);
    const unknown = run.filter((t) => wanted.includes(t)).length;
    if (unknown > 0 && unknown >= bestUnknown) {
      best = trimRun(run, wanted);
      bestUnknown = unknown;
    }
    i = j;
  }
  return best.map((t) => t.text).join(' ');
}

/** At most three words of a run, starting at its first unknown word (or just before it, if it is the last). */
function trimRun(run: readonly Token[], wanted: readonly Token[]): readonly Token[] {
  if (run.length <= 3) return run;
  const first = run.findIndex((t) => wanted.includes(t));
  const from = Math.max(0, Math.min(first, run.length - 3));
  return run.slice(from, from + 3);
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
