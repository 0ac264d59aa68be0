import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { SearchIndex } from '../../src/knowledge/search.js';

/** One subject of a two-subject question: a topic, and optionally a piece of a bullet of it. */
export interface Subject {
  topic: string;
  point?: string;
}

export interface LabelledQuestion {
  q: string;
  topic: string | null;
  /** A piece of the bullet that must be cited; a list: any one of them. */
  point?: string | string[];
  /** Two-subject questions: each must be among the cited points. */
  subjects?: Subject[];
  /** Out-of-scope questions: the subject the decline should name. */
  subject?: string;
  kind: string;
}

export interface Graded extends LabelledQuestion {
  got: string | null;
  cited: string[];
  /** The top answer's topic is the expected one (for topic null: the bot declined). */
  topicOk: boolean;
  /** The expected point (or each subject) is among the cited points. */
  pointOk: boolean;
  ok: boolean;
}

/** The question sets: `questions.yaml` is written in the talk's words, `questions-chat.yaml` the way people ask in chat. */
export const QUESTION_SETS = { words: 'test/fixtures/questions.yaml', chat: 'test/fixtures/questions-chat.yaml' } as const;
export type QuestionSet = keyof typeof QUESTION_SETS;

/** A labelled question set (default: the in-words set). */
export function loadQuestions(set: QuestionSet = 'words'): LabelledQuestion[] {
  return parse(readFileSync(resolve(QUESTION_SETS[set]), 'utf8')) as LabelledQuestion[];
}

/** An engine's answer to one question: the topic of each cited point, best first, and its text. */
export interface Answer {
  cited: { topicId: string; text: string }[];
}

const includes = (cited: Answer['cited'], piece: string, topic?: string) =>
  cited.some((c) => (!topic || c.topicId === topic) && c.text.toLowerCase().includes(piece.toLowerCase()));

/** Grades an answer against its label (shared by our engine and the peers in the bench). */
export function gradeAnswer(lq: LabelledQuestion, answer: Answer | { topic: string | null }): Graded {
  if ('topic' in answer) {
    // A `/status` lookup: only the topic counts.
    return { ...lq, got: answer.topic, cited: [], topicOk: answer.topic === lq.topic, pointOk: true, ok: answer.topic === lq.topic };
  }
  const got = answer.cited[0]?.topicId ?? null;
  const cited = answer.cited;
  let topicOk = got === lq.topic;
  let pointOk = true;
  if (lq.subjects) {
    topicOk = lq.subjects.some((s) => s.topic === got);
    pointOk = lq.subjects.every((s) => (s.point ? includes(cited, s.point, s.topic) : cited.some((c) => c.topicId === s.topic)));
  } else if (lq.point) {
    const pieces = Array.isArray(lq.point) ? lq.point : [lq.point];
    pointOk = pieces.some((p) => includes(cited, p));
  }
  return { ...lq, got, cited: cited.map((c) => c.text), topicOk, pointOk, ok: topicOk && pointOk };
}

/** Answers one labelled question the way the commands do: `/status x` looks a topic up, anything else is a question. */
export function grade(search: SearchIndex, lq: LabelledQuestion): Graded {
  const status = /^\/status\s+(.*)$/.exec(lq.q);
  if (status) {
    const r = search.findTopic(status[1]!);
    return gradeAnswer(lq, { topic: r.kind === 'match' ? r.topic.id : null });
  }
  const r = search.ask(lq.q);
  return gradeAnswer(lq, { cited: r.hits.map((h) => ({ topicId: h.topic.id, text: h.point.text })) });
}

/** Figures of one graded set, in percent (one decimal). */
export interface Figures {
  questions: number;
  /** Top-1 topic right and expected point cited (declined, for out-of-scope questions). */
  accuracy: number;
  /** Top-1 topic right (declined, for out-of-scope questions). */
  top1: number;
  /** Of the questions with an expected point or subjects: it is among the cited points. */
  point: number;
  /** Of the out-of-scope questions (topic null): declined. */
  declined_out: number;
  /** Of the in-scope free-text questions: declined. */
  declined_in: number;
}

const pct = (n: number, of: number) => (of === 0 ? 100 : Math.round((1000 * n) / of) / 10);

/** Sums up graded answers. */
export function figures(graded: readonly Graded[]): Figures {
  const withPoint = graded.filter((g) => g.point || g.subjects);
  const out = graded.filter((g) => g.topic === null && !g.q.startsWith('/status'));
  const inScope = graded.filter((g) => g.topic !== null && !g.q.startsWith('/status'));
  return {
    questions: graded.length,
    accuracy: pct(graded.filter((g) => g.ok).length, graded.length),
    top1: pct(graded.filter((g) => g.topicOk).length, graded.length),
    point: pct(withPoint.filter((g) => g.pointOk).length, withPoint.length),
    declined_out: pct(out.filter((g) => g.got === null).length, out.length),
    declined_in: pct(inScope.filter((g) => g.got === null).length, inScope.length),
  };
}

/** Accuracy (0–100) of a whole set, with the graded answers and the figures. */
export function accuracy(search: SearchIndex, questions = loadQuestions()): { accuracy: number; graded: Graded[]; figures: Figures } {
  const graded = questions.map((q) => grade(search, q));
  const f = figures(graded);
  return { accuracy: f.accuracy, graded, figures: f };
}
