/**
 * Topic lookup (`/status`, autocomplete, the topics a question names): a topic's exact keys (the loader's
 * `topicByKey`), the glossary's other names for a topic, its keys as stems, and fuse.js over the keys by
 * two-letter prefix. Filled by the SearchIndex build, which tokenises the keys through its term table.
 */
import Fuse from 'fuse.js';
import type { Knowledge, Topic } from './model.js';
import { grow } from './postings.js';
import type { TermTable } from './term-table.js';
import { normalizeKey, terms } from './text.js';

/** Fuse score at or below which a topic name counts as a match (0 = exact). */
const TOPIC_ACCEPT = 0.3;
/** Fuse score at or below which a topic name is offered as a suggestion. */
const TOPIC_SUGGEST = 0.6;

export type TopicLookup = { kind: 'match'; topic: Topic; exact: boolean } | { kind: 'none'; suggestions: Topic[] };

interface KeyEntry {
  key: string;
  topicId: string;
}

export class TopicIndex {
  /** Glossary names that name a topic (normalized); topic keys themselves are `knowledge.topicByKey`. */
  private readonly glossaryExact = new Map<string, Topic>();
  /**
   * fuse.js over topic keys, one per two-letter prefix: a typo rarely hits the first two letters, and each search stays
   * small at any scale. Each is built on the first lookup with its prefix (most prefixes are never looked up).
   */
  private readonly topicBuckets = new Map<string, Fuse<KeyEntry>>();
  /** Topic keys by their first two letters (indexes into `keyText`); grouped by `seal()`. */
  private keyGroups = new Map<string, number[]>();
  /** Every topic key (normalized) in talk order, and the id of the topic it names. */
  private readonly keyText: string[] = [];
  private readonly keyTopic: string[] = [];
  /**
   * Topic keys and glossary names as stems: one stem by its term id (`stemTopic`: the topic's number + 1, 0 for none),
   * and several (or a stem the table does not have) by the stems joined with spaces (`stemKeys`). The first key wins.
   */
  private stemTopic: Int32Array = new Int32Array(1 << 10);
  private readonly stemKeys = new Map<string, Topic>();
  /** Per topic: the glossary names that look it up. */
  private readonly glossaryKeys = new Map<Topic, string[]>();

  /** `table`: the build's term table, which numbers the keys' stems; `topicNumber`: each topic's number in `knowledge.topics`. */
  constructor(
    private readonly knowledge: Knowledge,
    private readonly table: TermTable,
    private readonly topicNumber: ReadonlyMap<Topic, number>,
  ) {}

  /**
   * Indexes one id, title or alias of a topic (number `n`; `k`: normalized; `fresh`: no earlier name of the topic has the same
   * key) for stemmed and fuzzy lookup; appends its term ids to `ids`. Returns its number of words if fresh, else 1.
   */
  addKey(t: Topic, n: number, key: string, k: string, fresh: boolean, ids: number[]): number {
    const from = ids.length;
    this.table.ids(key, ids, true);
    if (ids.length === from + 1) this.setStemTerm(ids[from]!, n);
    else if (ids.length > from) {
      const stemmed = joinTerms(this.table.terms, ids, from); // terms(key).join(' ')
      if (!this.stemKeys.has(stemmed)) this.stemKeys.set(stemmed, t);
    }
    this.keyText.push(k);
    this.keyTopic.push(t.id);
    return fresh ? wordCount(k) : 1;
  }

  /**
   * A glossary name of a term that names a topic ("solid-state disk" for SSD) also names the topic, unless it names
   * another one (`stemmed`: its stems joined by spaces). Returns its number of words if it was added, else 1.
   */
  addGlossaryKey(t: Topic, name: string, stemmed: string): number {
    const k = normalizeKey(name);
    if (this.exactKey(k) || this.stemKey(stemmed)) return 1;
    this.glossaryExact.set(k, t);
    const id = stemmed.includes(' ') ? undefined : this.table.idOf(stemmed);
    if (id === undefined) this.stemKeys.set(stemmed, t);
    else this.setStemTerm(id, this.topicNumber.get(t)!);
    this.keyText.push(k);
    this.keyTopic.push(t.id);
    const names = this.glossaryKeys.get(t);
    if (names) names.push(name);
    else this.glossaryKeys.set(t, [name]);
    return wordCount(k);
  }

  /** After the last key: groups the keys for fuzzy lookup. */
  seal(): void {
    this.keyGroups = groupByPrefix(this.keyText);
  }

  /** Term `id` (one stem) names topic number `k`, unless a key before named another. */
  private setStemTerm(id: number, k: number): void {
    if (id >= this.stemTopic.length) this.stemTopic = grow(this.stemTopic, id + 1);
    if (this.stemTopic[id] === 0) this.stemTopic[id] = k + 1;
  }

  /** The topic whose key has these stems (joined by spaces). */
  stemKey(stems: string): Topic | undefined {
    if (!stems.includes(' ')) {
      const id = this.table.idOf(stems);
      const n = id === undefined || id >= this.stemTopic.length ? 0 : this.stemTopic[id]!;
      if (n > 0) return this.knowledge.topics[n - 1];
    }
    return this.stemKeys.get(stems);
  }

  /** The topic a normalized key names exactly: its id, title or alias, or a glossary name of it. */
  exactKey(k: string): Topic | undefined {
    return this.knowledge.topicByKey.get(k) ?? this.glossaryExact.get(k);
  }

  /** The glossary's other names that look `topic` up (for /topics). */
  glossaryNames(topic: Topic): string[] {
    return this.glossaryKeys.get(topic) ?? [];
  }

  /** `/status <query>`: exact id, title or alias first, then fuzzy; below the confidence threshold, suggestions. */
  findTopic(query: string): TopicLookup {
    const k = normalizeKey(query);
    const exact = this.exactKey(k);
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
    const exact = this.exactKey(k);
    const ranked = this.rankTopics(k, limit).map((r) => r.topic);
    return exact ? [exact, ...ranked.filter((t) => t !== exact)].slice(0, limit) : ranked;
  }

  /** Up to three topics whose names are near the words of a question nothing matched. */
  suggest(question: string): Topic[] {
    const words = terms(question, true)
      .filter((w) => w.length >= 2)
      .slice(0, 4);
    const seen = new Map<Topic, number>();
    for (const w of words) {
      for (const r of this.rankTopics(w, 3)) {
        if (r.score <= 0.5) seen.set(r.topic, Math.min(seen.get(r.topic) ?? 1, r.score));
      }
    }
    return [...seen.entries()]
      .sort((a, b) => a[1] - b[1])
      .slice(0, 3)
      .map(([t]) => t);
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
      for (let i = 0; i < this.keyText.length; i++) if (this.keyText[i]!.startsWith(k)) add(this.keyTopic[i]!, 0.5);
      return out;
    }
    for (const r of this.bucket(k.slice(0, 2))?.search(k.slice(0, 64)) ?? []) add(r.item.topicId, r.score ?? 1);
    return out;
  }

  /** The fuzzy searcher over the topic keys that start with `prefix`, built on first use. */
  private bucket(prefix: string): Fuse<KeyEntry> | undefined {
    let fuse = this.topicBuckets.get(prefix);
    if (fuse) return fuse;
    const group = this.keyGroups.get(prefix);
    if (!group) return undefined;
    const list = group.map((i): KeyEntry => ({ key: this.keyText[i]!, topicId: this.keyTopic[i]! }));
    fuse = new Fuse(list, { keys: ['key'], includeScore: true, threshold: TOPIC_SUGGEST });
    this.topicBuckets.set(prefix, fuse);
    return fuse;
  }
}

/** Indexes of keys grouped by their first two letters. */
function groupByPrefix(keys: readonly string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const prefix = keys[i]!.slice(0, 2);
    const list = groups.get(prefix);
    if (list) list.push(i);
    else groups.set(prefix, [i]);
  }
  return groups;
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
