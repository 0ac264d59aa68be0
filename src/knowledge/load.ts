import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { talkFileSchema, type TalkFile } from './schema.js';
import type { Knowledge, Point, Talk, Topic } from './model.js';

/** A knowledge file that cannot be used: names the file, the path inside it and the reason. */
export class KnowledgeError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}${path ? ` at ${path}` : ''}: ${reason}`);
    this.name = 'KnowledgeError';
  }
}

/** Lower-cases, folds Unicode and spacing, and maps UK spellings to US ones, for matching keys. */
export function normalizeKey(s: string): string {
  return (/^[\x00-\x7f]*$/.test(s) ? s : s.normalize('NFKC'))
    .toLowerCase()
    .replace(/[“”"'’`]/g, '')
    .replace(/[\s_]+/g, ' ')
    .replace(/is(ation|e|ed|ing)\b/g, 'iz$1')
    .trim();
}

/** Folds whitespace the way the text export wraps lines. */
export function foldSpace(s: string): string {
  // Most text is folded already: then keep the string itself (no copy per bullet).
  return /\s\s|[^\S ]|^ | $/.test(s) ? s.replace(/\s+/g, ' ').trim() : s;
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
    names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    throw new KnowledgeError(dir, '', `cannot read the knowledge directory (${(err as Error).message})`);
  }
  if (names.length === 0) throw new KnowledgeError(dir, '', 'no .yaml knowledge files found');
  const files = names.map((name) => {
    const file = join(dir, name);
    return { file, data: parseTalkFile(file, readFileSync(file, 'utf8')) };
  });
  return buildKnowledge(files, started);
}

/** Turns validated talk files into the bot's knowledge; checks cross-file rules (unique ids and aliases, pages, quotes). */
export function buildKnowledge(files: { file: string; data: TalkFile }[], started = performance.now()): Knowledge {
  const talks: Talk[] = [];
  const topics: Topic[] = [];
  const topicById = new Map<string, Topic>();
  const keyOwner = new Map<string, string>();
  const whole = createHash('sha256');

  for (const { file, data } of files) {
    const talkTopics: Topic[] = [];
    data.topics.forEach((t, ti) => {
      const where = `topics.${ti}`;
      if (topicById.has(t.id)) throw new KnowledgeError(file, `${where}.id`, `topic id "${t.id}" is used twice`);
      for (const [ki, key] of [t.id, t.title, ...t.aliases].entries()) {
        const k = normalizeKey(key);
        const owner = keyOwner.get(k);
        if (owner !== undefined && owner !== t.id) {
          const path = ki === 0 ? 'id' : ki === 1 ? 'title' : `aliases.${ki - 2}`;
          throw new KnowledgeError(file, `${where}.${path}`, `"${key}" already names topic "${owner}"`);
        }
        keyOwner.set(k, t.id);
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
      const hash = createHash('sha256').update(JSON.stringify(t)).digest('hex').slice(0, 12);
      whole.update(hash);
      const topic: Topic = {
        id: t.id,
        title: t.title,
        aliases: t.aliases,
        summary: foldSpace(t.summary),
        verdict: t.verdict,
        verdictQuote: quote,
        pages: [...new Set(t.slides.map((s) => s.page))],
        points,
        hash,
      };
      topicById.set(t.id, topic);
      talkTopics.push(topic);
    });
    topics.push(...talkTopics);
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
    points: topics.flatMap((t) => t.points),
    version: whole.digest('hex').slice(0, 12),
    loadedAt: new Date(),
    loadMs: performance.now() - started,
  };
}
