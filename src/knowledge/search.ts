import type { Knowledge, Point, Topic } from './model.js';
import { Contexts, PostingsBuilder } from './postings.js';
import { mayMatchCased, pointFeatures } from './intent.js';
import { type Analysis, connectedSides, QuestionAnalyzer, spanText } from './question.js';
import { TermTable } from './term-table.js';
import { terms } from './text.js';
import { TopicIndex, type TopicLookup } from './topic-index.js';

export type { TopicLookup };
/** Weight of a point's context (topic title, aliases, slide title, parent bullet) next to its own words. */
const CONTEXT_WEIGHT = 0.35;
/** The term frequency of a point that has a term in its context only (as its postings store it). */
const NAME_ONLY_TF = Math.fround(CONTEXT_WEIGHT);
/** BM25 parameters. */
const K1 = 1.2;
const B = 0.75;
/**
 * A topic the question names by id, title or alias ("is ext4 any good?") adds
 * this share of an IDF-like weight of the topic to each of its points, so the
 * signal keeps its strength as the corpus grows.
 */
const ALIAS_BONUS = 0.9;
/** A question whose best point scores below this is "no match". */
const MIN_SCORE = 1.2;
/** Other points are cited when they score at least this share of the best. */
const CITE_RATIO = 0.45;
/** A point that carries what the question asks for (a person, a number, a time, a reason, a state) scores this much more. */
const INTENT_BOOST = 0.6;
/** Share of a matching point's score that a point carrying the question's intent on the same slide receives (divided by their distance). */
const ADJACENT_SHARE = 0.5;
/** How far on a slide (in points) adjacency reaches. */
const ADJACENT_REACH = 3;
/** Points cited per subject in a two-subject answer. */
const PER_SUBJECT = 2;

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

/**
 * The search indexes over one Knowledge, built once (at start-up or reload):
 * topic lookup (exact keys, then fuse.js over ids, titles and aliases) and
 * question answering (BM25 over an inverted index of points, intents and
 * adjacency), the question taken apart by question.ts against this index's vocabulary.
 */
export class SearchIndex {
  /** Topic lookup: exact, glossary, stemmed and fuzzy keys. */
  private readonly topicIndex: TopicIndex;
  /**
   * The inverted index, flat (see postings.ts): term → its id in `table` → slot (-1: no postings), and slot s's postings
   * `postStart[s] .. postStart[s + 1]` (posting j: point `post[2j]`, ascending, term frequency `postTf[2j + 1]`), plus
   * the topics whose names use the term, `nameTopic[nameStart[s] .. nameStart[s + 1])` (ascending): all their points
   * have it in their context.
   */
  private readonly slotOfTerm: Int32Array;
  /** Per slot: its term's id in `table`. */
  private readonly termOfSlot: Int32Array;
  private readonly postStart: Int32Array;
  private readonly post: Int32Array;
  private readonly postTf: Float32Array;
  private readonly nameStart: Int32Array;
  private readonly nameTopic: Int32Array;
  /** Per slot: how many points use the term, in their own words or their context. */
  private readonly postDf: Int32Array;
  private readonly docLength: Float32Array;
  private readonly avgLength: number;
  /** The build's term table: the talk's words as written, for typo fixes. */
  private readonly table: TermTable;
  /** Compound terms by their letters alone ("underrepresented" → "under-represented"). */
  private readonly joinedCompounds = new Map<string, string>();
  private readonly scores: Float64Array;
  /** Each topic's points as indexes into `knowledge.points`. */
  /** Each topic's points (by its number in `knowledge.topics`): `knowledge.points[topicStart[k] .. topicStart[k + 1])`. */
  private readonly topicStart: Int32Array;
  private readonly ownMatch: Uint8Array;
  private readonly longestKey: number;
  /** Glossary names as stem sequences (joined by spaces) → the term's stems. */
  private readonly glossary = new Map<string, string[]>();
  private readonly longestPhrase: number;
  /** Per point: the intents it answers (bit mask of INTENTS). */
  private readonly features: Uint8Array;
  /** Per point: its slide, numbered across the knowledge (a slide's points are contiguous). */
  private readonly slideOf: Int32Array;
  /** Per point: the intents its neighbours on its slide (within ADJACENT_REACH) answer, OR-ed. */
  private readonly nearFeatures: Uint8Array;
  /** Per term slot: how many topics use the term. */
  private readonly topicSpread: Int32Array;
  private readonly bonus: Float64Array;
  /** Per point: BM25's length normalisation, K1 × (1 − B + B × length / average length). */
  private readonly docNorm: Float64Array;
  /** Per point: the number of its topic in `knowledge.topics`. */
  private readonly pointTopic: Int32Array;
  private readonly topicNumber = new Map<Topic, number>();
  /** Per topic: 1 while a question that names it is ranked. */
  private readonly topicMark: Uint8Array;
  /** The points a question's terms reached (their scores are not 0), and those adjacency reached. */
  private readonly touched: PointList;
  private readonly receivers: Int32Array;
  private readonly analyzer: QuestionAnalyzer;

  constructor(readonly knowledge: Knowledge) {
    // One TermTable for the whole build: topic keys, slide titles and bullets are all tokenised through it.
    // The work is split into small per-key and per-point functions: V8 optimises those quickly and
    // steadily, where one long loop body is left to on-stack replacement and deoptimises repeatedly.
    const names = knowledge.topics.reduce((n, t) => n + t.keys.length, 0);
    const table = (this.table = new TermTable(knowledge.points.length >> 1, names));
    const topicIndex = (this.topicIndex = new TopicIndex(knowledge, table, this.topicNumber));
    const { keyTerms, longest: longestName } = this.indexNames();
    let longest = longestName;
    let longestPhrase = 1;
    for (const g of knowledge.glossary) {
      const term = terms(g.term);
      const named = topicIndex.stemKey(term.join(' '));
      for (const name of g.also) {
        const stems = terms(name);
        if (stems.length === 0) continue;
        const key = stems.join(' ');
        if (!this.glossary.has(key)) this.glossary.set(key, term);
        longestPhrase = Math.max(longestPhrase, stems.length);
        if (named) longest = Math.max(longest, topicIndex.addGlossaryKey(named, name, key));
      }
    }
    this.longestPhrase = this.glossary.size === 0 ? 0 : Math.min(6, longestPhrase);
    this.longestKey = Math.min(4, longest);
    topicIndex.seal();

    const points = knowledge.points;
    this.scores = new Float64Array(points.length);
    this.bonus = new Float64Array(points.length);
    this.features = new Uint8Array(points.length);
    this.slideOf = new Int32Array(points.length);
    this.ownMatch = new Uint8Array(points.length);
    this.pointTopic = new Int32Array(points.length);
    this.touched = new PointList(points.length);
    this.receivers = new Int32Array(points.length);
    this.topicMark = new Uint8Array(knowledge.topics.length);
    this.topicStart = new Int32Array(knowledge.topics.length + 1);
    const postings = new PostingsBuilder(points.length, CONTEXT_WEIGHT);
    this.indexPoints(keyTerms, postings);
    this.nearFeatures = this.nearFeaturesOf();
    const index = postings.finish(table.terms.length);
    this.slotOfTerm = index.slotOfTerm;
    this.termOfSlot = index.termOfSlot;
    this.postStart = index.start;
    this.post = index.post;
    this.postTf = index.postTf;
    this.nameStart = index.topicStart;
    this.nameTopic = index.topic;
    this.postDf = index.df;
    this.docLength = index.length;
    this.avgLength = points.length ? this.docLength.reduce((a, b) => a + b, 0) / points.length : 1;
    this.docNorm = this.docNormOf();
    this.topicSpread = this.spreadOf();
    this.findJoinedCompounds();
    this.analyzer = new QuestionAnalyzer({
      has: (term) => this.slot(term) !== undefined,
      df: (term) => {
        const slot = this.slot(term);
        return slot === undefined ? 0 : this.postDf[slot]!;
      },
      specificity: (term) => this.specificity(term),
      termOfWord: (word) => this.table.termOf(word),
      joinedCompound: (letters) => this.joinedCompounds.get(letters),
      cooccur: (a, b) => this.cooccur(this.slot(a)!, this.slot(b)!),
      glossaryTerm: (stems) => this.glossary.get(stems),
      longestPhrase: this.longestPhrase,
      topicNamed: (key, stems) => topicIndex.exactKey(key) ?? topicIndex.stemKey(stems),
      longestKey: this.longestKey,
    });
  }

  // The build's loops each sit in a method of their own: V8 optimises a loop on the stack of the function it is in,
  // and in one long constructor the optimised code met the next loop's code without type feedback and was dropped
  // again (five times in a first build at 1,000 talks).

  /** Each topic's id, title and aliases, tokenised and added to topic lookup: their term ids per topic, and the most words in a fresh key. */
  private indexNames(): { keyTerms: number[][]; longest: number } {
    const topics = this.knowledge.topics;
    /** Each topic's id, title and aliases as term ids, in that order: the topic's share of its points' context. */
    const keyTerms: number[][] = [];
    let longest = 1;
    // Index loops throughout: a for-of over entries() makes an array per step until V8 has optimised the loop.
    for (let k = 0; k < topics.length; k++) {
      const t = topics[k]!;
      this.topicNumber.set(t, k);
      const ids: number[] = [];
      for (let i = 0; i < t.keys.length; i++) {
        const name = i === 0 ? t.id : i === 1 ? t.title : t.aliases[i - 2]!;
        longest = Math.max(longest, this.topicIndex.addKey(t, k, name, t.keys[i]!, t.keys.indexOf(t.keys[i]!) === i, ids));
      }
      keyTerms.push(ids);
    }
    return { keyTerms, longest };
  }

  /** Every point, topic by topic (`keyTerms`: each topic's names as term ids), into `postings` and the per-point arrays. */
  private indexPoints(keyTerms: readonly number[][], postings: PostingsBuilder): void {
    const topics = this.knowledge.topics;
    const contexts = new Contexts(this.table, postings);
    // knowledge.points are the topics' points in topic order.
    let i = 0;
    for (let k = 0; k < topics.length; k++) {
      const topicPoints = topics[k]!.points;
      this.topicStart[k] = i;
      contexts.startTopic(k, keyTerms[k]!, topicPoints.length);
      for (let j = 0; j < topicPoints.length; j++) this.addPoint(topicPoints[j]!, i++, k, contexts, postings);
    }
    this.topicStart[topics.length] = i;
  }

  /** Per point: BM25's length normalisation. */
  private docNormOf(): Float64Array {
    const { docLength, avgLength } = this;
    const norm = new Float64Array(docLength.length);
    for (let d = 0; d < norm.length; d++) norm[d] = K1 * (1 - B + (B * docLength[d]!) / avgLength);
    return norm;
  }

  /** Compound terms of letters joined by `-` or `/`, by their letters alone. */
  private findJoinedCompounds(): void {
    const { terms } = this.table;
    for (let slot = 0; slot < this.termOfSlot.length; slot++) {
      const term = terms[this.termOfSlot[slot]!]!;
      if ((term.includes('-') || term.includes('/')) && /^[a-z]+([-/][a-z]+)+$/.test(term)) this.joinedCompounds.set(term.replace(/[-/]/g, ''), term);
    }
  }

  /** Indexes point `i` (`p`, of topic number `k`): its postings, intents, topic and slide. */
  private addPoint(p: Point, i: number, k: number, contexts: Contexts, postings: PostingsBuilder): void {
    const n = this.table.scan(p.text);
    const cased = mayMatchCased(p.text, this.table.capitalOrDigit);
    postings.setOwn(this.table.scanned, n);
    postings.add(contexts.of(p), this.table.terms.length);
    this.pointTopic[i] = k;
    this.features[i] = pointFeatures(p.text, p.slideTitle, cased);
    const prev = this.knowledge.points[i - 1];
    this.slideOf[i] = i === 0 ? 0 : this.slideOf[i - 1]! + (prev!.topicId === p.topicId && prev!.page === p.page && prev!.slideTitle === p.slideTitle ? 0 : 1);
  }

  private nearFeaturesOf(): Uint8Array {
    const { features, slideOf } = this;
    const n = features.length;
    const near = new Uint8Array(n);
    for (let d = 0; d < n; d++) {
      let mask = 0;
      const last = Math.min(n - 1, d + ADJACENT_REACH);
      for (let e = Math.max(0, d - ADJACENT_REACH); e <= last; e++) if (e !== d && slideOf[e] === slideOf[d]) mask |= features[e]!;
      near[d] = mask;
    }
    return near;
  }

  /** Per term slot, the number of topics whose points use it (points of a topic are contiguous). */
  private spreadOf(): Int32Array {
    const { postStart, post, pointTopic, nameStart, nameTopic } = this;
    const spread = new Int32Array(postStart.length);
    for (let slot = 0; slot + 1 < postStart.length; slot++) {
      // The topics whose names use it, and those of its postings' points that are not among them.
      let n = nameStart[slot + 1]! - nameStart[slot]!;
      let named = nameStart[slot]!;
      let last = -1;
      for (let j = postStart[slot]!; j < postStart[slot + 1]!; j++) {
        const topic = pointTopic[post[2 * j]!]!;
        if (topic === last) continue;
        last = topic;
        while (named < nameStart[slot + 1]! && nameTopic[named]! < topic) named++;
        if (named === nameStart[slot + 1]! || nameTopic[named] !== topic) n++;
      }
      spread[slot] = n;
    }
    return spread;
  }

  /** The postings slot of a term, if some point uses it. */
  private slot(term: string): number | undefined {
    const id = this.table.idOf(term);
    const slot = id === undefined || id >= this.slotOfTerm.length ? -1 : this.slotOfTerm[id]!;
    return slot < 0 ? undefined : slot;
  }

  private idf(df: number): number {
    const n = this.knowledge.points.length;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /** The glossary's other names that look `topic` up (for /topics). */
  glossaryNames(topic: Topic): string[] {
    return this.topicIndex.glossaryNames(topic);
  }

  /** `/status <query>`: exact id, title or alias first, then fuzzy; below the confidence threshold, suggestions. */
  findTopic(query: string): TopicLookup {
    return this.topicIndex.findTopic(query);
  }

  /** Autocomplete choices for a topic option: talk order for empty input, best first otherwise. */
  completeTopics(input: string, limit = 25): Topic[] {
    return this.topicIndex.completeTopics(input, limit);
  }

  /**
   * Free-text question: the best matching points across all topics. A question whose subject the
   * talk does not cover gets no points and names that subject (`uncovered`); a question about two
   * subjects ("ext4 or XFS?") gets points for each, labelled.
   */
  ask(question: string, limit = 3): QuestionResult {
    const a = this.analyzer.analyze(question);
    const uncovered = this.analyzer.uncoveredSubject(a);
    if (uncovered !== undefined) {
      const top = this.rank(a, limit);
      // The topics of the points its other words match, if any (never a fuzzy search: a decline stays cheap).
      const suggestions = [...new Set(top.map((h) => h.topic))].slice(0, 3);
      return { hits: [], suggestions, terms: [...a.weighted.keys()], uncovered };
    }
    const pair = this.twoSubjects(question, a);
    if (pair) return { hits: pair, suggestions: [], terms: [...a.weighted.keys()] };
    const hits = this.rank(a, limit);
    return { hits, suggestions: hits.length === 0 ? this.topicIndex.suggest(question) : [], terms: [...a.weighted.keys()] };
  }

  /**
   * How specific a vocabulary term is to few topics, 0–1: log(topics / topics using it) / log(topics).
   * Words the talk uses everywhere ("kernel", "support", "work") come near 0.
   */
  private specificity(term: string): number {
    const slot = this.slot(term);
    if (slot === undefined) return 0;
    const t = this.knowledge.topics.length;
    return t < 2 ? 1 : Math.log(t / Math.max(1, this.topicSpread[slot]!)) / Math.log(t);
  }

  /** Whether some point uses both terms (slots), in its own words or its context. */
  private cooccur(a: number, b: number): boolean {
    return this.namesMeet(a, b) || this.postingsMeet(a, b) || this.postingsMeet(b, a);
  }

  /** Whether the names of one topic use both terms. */
  private namesMeet(a: number, b: number): boolean {
    const { nameStart, nameTopic } = this;
    for (let i = nameStart[a]!, j = nameStart[b]!; i < nameStart[a + 1]! && j < nameStart[b + 1]!; ) {
      const x = nameTopic[i]!;
      const y = nameTopic[j]!;
      if (x === y) return true;
      if (x < y) i++;
      else j++;
    }
    return false;
  }

  /** Whether a point among `a`'s postings is among `b`'s or in a topic whose names use `b` (all lists ascending). */
  private postingsMeet(a: number, b: number): boolean {
    const { postStart, post, nameStart, nameTopic, pointTopic } = this;
    let j = postStart[b]!;
    let n = nameStart[b]!;
    for (let i = postStart[a]!; i < postStart[a + 1]!; i++) {
      const d = post[2 * i]!;
      while (j < postStart[b + 1]! && post[2 * j]! < d) j++;
      if (j < postStart[b + 1]! && post[2 * j] === d) return true;
      const k = pointTopic[d]!;
      while (n < nameStart[b + 1]! && nameTopic[n]! < k) n++;
      if (n < nameStart[b + 1]! && nameTopic[n] === k) return true;
    }
    return false;
  }

  /**
   * "ext4 or XFS?", "KVM vs Xen": when each side of the connector names a topic, each side is
   * answered on its own and its points are labelled with what it names.
   */
  private twoSubjects(question: string, whole: Analysis): PointHit[] | undefined {
    if (whole.spans.length < 2) return undefined;
    const sides = connectedSides(question);
    if (!sides) return undefined;
    const out: PointHit[][] = [];
    for (const side of sides) {
      const a = this.analyzer.analyze(side);
      const span = a.spans[0];
      if (!span) return undefined;
      a.intents = whole.intents;
      const label = spanText(a, span);
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
    const touched = this.touched;
    touched.size = 0;
    for (const [w, weight] of a.weighted) this.addTerm(this.slot(w)!, weight);
    for (const topic of a.named) this.addTopic(topic);
    if (a.intents !== 0) {
      this.addAdjacent(a.intents);
      this.boostIntents(a.intents, a.named);
    }
    const top = this.best(limit * 3);
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
   * Adds one term's BM25 share to the score of each point that uses it: its postings, and every point of a topic
   * whose names use it (the names' share added to the point's own frequency), in point order.
   */
  private addTerm(slot: number, weight: number): void {
    // Hot loops read locals only: a property first read inside a branch that an earlier question
    // never took sends V8's optimised code back to the interpreter on every call.
    const { scores, ownMatch, post, postTf, docNorm, touched, nameTopic, topicStart } = this;
    const items = touched.items;
    let size = touched.size;
    let j = this.postStart[slot]!;
    const to = this.postStart[slot + 1]!;
    const idf = this.idf(this.postDf[slot]!);
    const nameEnd = this.nameStart[slot + 1]!;
    for (let n = this.nameStart[slot]!; ; n++) {
      // The postings before the next topic whose names use the term (all that remain after the last one).
      const first = n < nameEnd ? topicStart[nameTopic[n]!]! : 0x7fffffff;
      for (; j < to && post[2 * j]! < first; j++) {
        const d = post[2 * j]!;
        const f = postTf[2 * j + 1]!;
        if (scores[d] === 0) items[size++] = d;
        if (f >= 1) ownMatch[d] = 1;
        scores[d]! += weight * idf * ((f * (K1 + 1)) / (f + docNorm[d]!));
      }
      if (n === nameEnd) break;
      // That topic's points: the names' share on top of their own frequency (an integer when no other context has it).
      for (let d = first, end = topicStart[nameTopic[n]! + 1]!; d < end; d++) {
        let f = NAME_ONLY_TF;
        if (j < to && post[2 * j] === d) {
          const g = postTf[2 * j++ + 1]!;
          f = Number.isInteger(g) ? Math.fround(g + CONTEXT_WEIGHT) : g;
        }
        if (scores[d] === 0) items[size++] = d;
        if (f >= 1) ownMatch[d] = 1;
        scores[d]! += weight * idf * ((f * (K1 + 1)) / (f + docNorm[d]!));
      }
    }
    touched.size = size;
  }

  /** A topic the question names: each of its points gets the named-topic bonus. */
  private addTopic(topic: Topic): void {
    const { scores, touched } = this;
    const items = touched.items;
    let size = touched.size;
    const n = scores.length;
    const m = topic.points.length;
    const bonus = ALIAS_BONUS * Math.log(1 + (n - m + 0.5) / (m + 0.5));
    const k = this.topicNumber.get(topic)!;
    for (let d = this.topicStart[k]!; d < this.topicStart[k + 1]!; d++) {
      if (scores[d] === 0) items[size++] = d;
      scores[d]! += bonus;
    }
    touched.size = size;
  }

  /**
   * A point that carries what the question asks for receives a share of the score of matching
   * points on its slide (the bullet after "people keep doing Y" often says why).
   */
  private addAdjacent(intents: number): void {
    const { scores, bonus, features, slideOf, ownMatch, nearFeatures, touched } = this;
    const n = scores.length;
    const items = touched.items;
    const touchedBefore = touched.size;
    let size = touchedBefore;
    const receivers = this.receivers;
    let received = 0;
    for (let i = 0; i < touchedBefore; i++) {
      const d = items[i]!;
      if (ownMatch[d] !== 1 || (nearFeatures[d]! & intents) === 0) continue;
      const last = Math.min(n - 1, d + ADJACENT_REACH);
      for (let e = Math.max(0, d - ADJACENT_REACH); e <= last; e++) {
        if (e === d || slideOf[e] !== slideOf[d] || (features[e]! & intents) === 0) continue;
        const share = (ADJACENT_SHARE * scores[d]!) / Math.abs(e - d);
        if (bonus[e] === 0) receivers[received++] = e;
        bonus[e] = Math.max(bonus[e]!, share);
      }
    }
    for (let i = 0; i < received; i++) {
      const e = receivers[i]!;
      if (scores[e] === 0) items[size++] = e;
      scores[e]! += bonus[e]!;
      bonus[e] = 0;
    }
    touched.size = size;
  }

  /**
   * A point that carries what the question asks for gets INTENT_BOOST more; when the question names
   * topics, what it asks for is looked for among their points only.
   */
  private boostIntents(intents: number, named: ReadonlySet<Topic>): void {
    const { scores, features, touched, pointTopic, topicMark } = this;
    const items = touched.items;
    for (const t of named) topicMark[this.topicNumber.get(t)!] = 1;
    const anyTopic = named.size === 0;
    for (let i = 0, len = touched.size; i < len; i++) {
      const d = items[i]!;
      if ((features[d]! & intents) !== 0 && (anyTopic || topicMark[pointTopic[d]!] === 1)) scores[d]! *= 1 + INTENT_BOOST;
    }
    for (const t of named) topicMark[this.topicNumber.get(t)!] = 0;
  }

  /** The best `limit` touched points scoring at least MIN_SCORE, best first (ties: talk order); resets the scratch arrays. */
  private best(limit: number): Ranked[] {
    const { scores, ownMatch, touched } = this;
    const items = touched.items;
    const top: Ranked[] = [];
    for (let i = 0, len = touched.size; i < len; i++) {
      const d = items[i]!;
      const score = scores[d]!;
      scores[d] = 0;
      if (score >= MIN_SCORE && (top.length < limit || beats(score, d, top[top.length - 1]!))) insertTop(top, { d, score, own: ownMatch[d] === 1 }, limit);
      ownMatch[d] = 0;
    }
    touched.size = 0;
    return top;
  }
}

/** Point numbers, each added at most once per question: a fixed buffer, so no array grows per question. */
class PointList {
  readonly items: Int32Array;
  size = 0;

  constructor(points: number) {
    this.items = new Int32Array(points);
  }
}

interface Ranked {
  d: number;
  score: number;
  /** The point's own words matched (not only its context). */
  own: boolean;
}

/** Whether point `d` scoring `score` ranks above `r` (ties: talk order). */
function beats(score: number, d: number, r: Ranked): boolean {
  return r.score < score || (r.score === score && r.d > d);
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
