import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { SearchIndex } from '../../src/knowledge/search.js';

export interface LabelledQuestion {
  q: string;
  topic: string | null;
  point?: string;
  kind: string;
}

export interface Graded extends LabelledQuestion {
  got: string | null;
  cited: string[];
  ok: boolean;
}

/** The labelled question set in test/fixtures/questions.yaml. */
export function loadQuestions(): LabelledQuestion[] {
  return parse(readFileSync(resolve('test/fixtures/questions.yaml'), 'utf8')) as LabelledQuestion[];
}

/** Answers one labelled question the way the commands do: `/status x` looks a topic up, anything else is a question. */
export function grade(search: SearchIndex, lq: LabelledQuestion): Graded {
  let got: string | null;
  let cited: string[] = [];
  const status = /^\/status\s+(.*)$/.exec(lq.q);
  if (status) {
    const r = search.findTopic(status[1]!);
    got = r.kind === 'match' ? r.topic.id : null;
  } else {
    const r = search.ask(lq.q);
    got = r.hits[0]?.topic.id ?? null;
    cited = r.hits.map((h) => h.point.text);
  }
  const pointOk = !lq.point || cited.some((c) => c.toLowerCase().includes(lq.point!.toLowerCase()));
  return { ...lq, got, cited, ok: got === lq.topic && pointOk };
}

/** Top-1 accuracy (0–100) of the whole set, with the graded answers. */
export function accuracy(search: SearchIndex, questions = loadQuestions()): { accuracy: number; graded: Graded[] } {
  const graded = questions.map((q) => grade(search, q));
  return { accuracy: (100 * graded.filter((g) => g.ok).length) / graded.length, graded };
}
