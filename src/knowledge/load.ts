import { createHash, hash as digestOf } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { talkFileSchema, type TalkFile } from './schema.js';
import type { GlossaryEntry, Knowledge, Point, Talk, Topic, Verdict } from './model.js';
import { normalizeKey } from './text.js';
import { StartupError } from '../startup-error.js';

export { normalizeKey };

/** A knowledge file that cannot be used: names the file, the path inside it and the reason. */
export class KnowledgeError extends StartupError {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}${path ? ` at ${path}` : ''}: ${reason}`);
    this.name = 'KnowledgeError';
  }
}

/** Folds whitespace the way the text export wraps lines. */
export function foldSpace(s: string): string {
  // Most text is folded already: then keep the string itself (no copy per bullet).
  return folded(s) ? s : s.replace(/\s+/g, ' ').trim();
}

/** Whether `s` has no whitespace but single spaces, none doubled, none at either end (one pass over it). */
function folded(s: string): boolean {
  if (s.charCodeAt(0) === 32 || s.charCodeAt(s.length - 1) === 32) return false;
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32) {
      if (space) return false;
      space = true;
      continue;
    }
    space = false;
    // Other whitespace: tab to carriage return, and from U+0085 on what `\s` matches (rare: checked by it).
    if ((c >= 9 && c <= 13) || (c >= 0x85 && /\s/.test(s[i]!))) return false;
  }
  return true;
}

/** Parses and validates one YAML file; throws KnowledgeError. */
export function parseTalkFile(file: string, source: string): TalkFile {
  const doc = parseDocument(source, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new KnowledgeError(file, where, e.message.split('\n')[0] ?? 'invalid YAML');
  }
  const result = talkFileSchema.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new KnowledgeError(file, issue.path.join('.'), issue.message);
  }
  return result.data;
}

/** Reads every `*.yaml`/`*.yml` file in `dir` (sorted by name) into one validated Knowledge. */
export function loadKnowledge(dir: string): Knowledge {
  const started = performance.now();
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (err) {
    throw new KnowledgeError(dir, '', `cannot read the knowledge directory (${(err as Error).message})`);
  }
  if (names.length === 0) throw new KnowledgeError(dir, '', 'no .yaml knowledge files found');
  const files = names.map((name) => {
    const file = join(dir, name);
    const source = readFileSync(file, 'utf8');
    return { file, data: parseTalkFile(file, source), source };
  });
  return buildKnowledge(files, started);
}

/**
 * Turns validated talk files into the bot's knowledge; checks cross-file rules (unique ids and aliases, pages, quotes).
 * `source`: the file's text, which the version is a hash of (without it, the data's JSON is hashed instead).
 */
export function buildKnowledge(files: { file: string; data: TalkFile; source?: string }[], started = performance.now()): Knowledge {
  const talks: Talk[] = [];
  const topics: Topic[] = [];
  const topicById = new Map<string, Topic>();
  const topicByKey = new Map<string, Topic>();
  const allPoints: Point[] = [];
  const whole = createHash('sha256');
  const glossary: GlossaryEntry[] = [];

  for (const { file, data, source } of files) {
    whole.update(source ?? JSON.stringify(data));
    const talkTopics: Topic[] = [];
    data.topics.forEach((t, ti) => {
      const where = `topics.${ti}`;
      if (topicById.has(t.id)) throw new KnowledgeError(file, `${where}.id`, `topic id "${t.id}" is used twice`);
      const names = [t.id, t.title, ...t.aliases];
      const keys = names.map(normalizeKey);
      for (let ki = 0; ki < keys.length; ki++) {
        const owner = topicByKey.get(keys[ki]!);
        if (owner !== undefined) {
          const path = ki === 0 ? 'id' : ki === 1 ? 'title' : `aliases.${ki - 2}`;
          throw new KnowledgeError(file, `${where}.${path}`, `"${names[ki]}" already names topic "${owner.id}"`);
        }
      }
      const points: Point[] = [];
      t.slides.forEach((s, si) => {
        if (s.page > data.talk.pages) {
          throw new KnowledgeError(file, `${where}.slides.${si}.page`, `page ${s.page} is beyond the talk's ${data.talk.pages} pages`);
        }
        for (const b of s.bullets) {
          const p: Point = { id: `${t.id}#${points.length}`, topicId: t.id, text: foldSpace(b.text), page: s.page, slideTitle: s.title };
          points.push(p);
          for (const sub of b.sub) {
            points.push({ id: `${t.id}#${points.length}`, topicId: t.id, text: foldSpace(sub), page: s.page, slideTitle: s.title, parent: p.text });
          }
        }
      });
      const quote = t.verdict_quote === null ? null : foldSpace(t.verdict_quote);
      if (quote !== null && !points.some((p) => p.text.includes(quote))) {
        throw new KnowledgeError(file, `${where}.verdict_quote`, "the quote is not in any of the topic's bullets");
      }
      const topic = new LoadedTopic(t, keys, quote, points);
      for (const p of points) allPoints.push(p);
      topicById.set(t.id, topic);
      for (const k of keys) topicByKey.set(k, topic);
      talkTopics.push(topic);
    });
    topics.push(...talkTopics);
    glossary.push(...glossaryOf(file, data, talkTopics));
    talks.push({
      id: data.talk.id,
      file,
      title: data.talk.title,
      titleNote: data.talk.title_note,
      speaker: data.talk.speaker,
      speakerNote: data.talk.speaker_note,
      era: data.talk.era,
      pages: data.talk.pages,
      source: data.talk.source,
      topics: talkTopics,
      pointCount: talkTopics.reduce((n, t) => n + t.points.length, 0),
    });
  }

  return {
    talks,
    topics,
    topicById,
    topicByKey,
    points: allPoints,
    glossary,
    version: whole.digest('hex').slice(0, 12),
    loadedAt: new Date(),
    loadMs: performance.now() - started,
  };
}

/** A topic as loaded from its entry in a knowledge file. */
class LoadedTopic implements Topic {
  readonly id: string;
  readonly title: string;
  readonly aliases: readonly string[];
  readonly summary: string;
  readonly verdict: Verdict;
  readonly pages: readonly number[];
  private digest: string | undefined;

  constructor(
    private readonly entry: TalkFile['topics'][number],
    readonly keys: readonly string[],
    readonly verdictQuote: string | null,
    readonly points: readonly Point[],
  ) {
    this.id = entry.id;
    this.title = entry.title;
    this.aliases = entry.aliases;
    this.summary = foldSpace(entry.summary);
    this.verdict = entry.verdict;
    this.pages = [...new Set(entry.slides.map((s) => s.page))];
  }

  /** Worked out when first read (digests read it; a start-up does not). */
  get hash(): string {
    return (this.digest ??= digestOf('sha256', JSON.stringify(this.entry), 'hex').slice(0, 12));
  }
}

/**
 * A talk's glossary, checked: each term must occur in the talk (a bullet, a slide title or a topic's
 * names) and each name may stand for one term only. Records which topics mention each term.
 */
function glossaryOf(file: string, data: TalkFile, topics: readonly Topic[]): GlossaryEntry[] {
  if (data.glossary.length === 0) return [];
  // Each topic's names, slide titles and points, normalized, as one text (separated by newlines).
  const texts = topics.map((t) => {
    const parts = [...new Set(t.points.map((p) => p.slideTitle)), ...t.points.map((p) => p.text)].map(normalizeKey);
    return `\n${[...t.keys, ...parts].join('\n')}\n`;
  });
  const owner = new Map<string, string>();
  const claim = (name: string, term: string, path: string) => {
    const k = normalizeKey(name);
    const other = owner.get(k);
    if (other !== undefined && other !== term) throw new KnowledgeError(file, path, `"${name}" already stands for glossary term "${other}"`);
    owner.set(k, term);
  };
  for (const [i, g] of data.glossary.entries()) claim(g.term, g.term, `glossary.${i}.term`);
  return data.glossary.map((g, i) => {
    const k = normalizeKey(g.term);
    const topicIds = topics.filter((_, ti) => startsWordIn(texts[ti]!, k)).map((t) => t.id);
    if (topicIds.length === 0) throw new KnowledgeError(file, `glossary.${i}.term`, `"${g.term}" does not occur in the talk`);
    for (const [j, name] of g.also.entries()) claim(name, g.term, `glossary.${i}.also.${j}`);
    return { term: g.term, also: g.also, talkId: data.talk.id, topicIds };
  });
}

const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

/** Whether `k` occurs in `text` right after a character that is not a letter or digit (a word starts with it). */
function startsWordIn(text: string, k: string): boolean {
  for (let i = text.indexOf(k, 1); i > 0; i = text.indexOf(k, i + 1)) {
    if (!LETTER_OR_DIGIT.test(String.fromCodePoint(codePointBefore(text, i)))) return true;
  }
  return false;
}

/** The code point that ends just before index `i` (a surrogate pair counts as one). */
function codePointBefore(s: string, i: number): number {
  const low = s.charCodeAt(i - 1);
  if (low >= 0xdc00 && low <= 0xdfff && i >= 2) {
    const high = s.charCodeAt(i - 2);
    if (high >= 0xd800 && high <= 0xdbff) return s.codePointAt(i - 2)!;
  }
  return low;
}
