import { readFileSync } from 'node:fs';
import { buildKnowledge, parseTalkFile } from '../../src/knowledge/load.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { accuracy, loadQuestions } from '../support/quality.js';
import { distractorTalks } from './distractors.js';
import { percentile, round, settledHeapBytes, timeIt } from './stats.js';

export interface ScaleRow {
  talks: number;
  points: number;
  build_ms: number;
  status_p99: number;
  question_p50: number;
  question_p99: number;
  /** Accuracy (%) on the in-words set (test/fixtures/questions.yaml) and on the chat-words set. */
  accuracy: number;
  accuracy_chat: number;
  heap_mb: number;
  samples: { status: number; question: number };
}

const STATUS_QUERIES = ['fs', 'filesystems', 'mm', 'kvm', 'tracing', 'rt', 'next', 'containers', 'ras', 'x86', 'filesytems', 'virtualization'];

/** The knowledge of one scale step: the real talk plus talks−1 distractors. */
export function scaledKnowledge(talks: number) {
  const realFile = 'knowledge/talk.yaml';
  const source = readFileSync(realFile, 'utf8');
  const real = parseTalkFile(realFile, source);
  return buildKnowledge([{ file: realFile, data: real, source }, ...distractorTalks(real, talks).map((data, i) => ({ file: `distractor-${i + 1}`, data }))]);
}

/** The free-text questions of both labelled sets: what the question timings run over. */
export function benchQuestions(): string[] {
  return [...loadQuestions('words'), ...loadQuestions('chat')].filter((q) => !q.q.startsWith('/status')).map((q) => q.q);
}

/** One scale step: the real talk plus talks−1 distractors; index build, lookups, accuracy on both sets, heap. */
export async function measureScale(talks: number): Promise<ScaleRow> {
  const realFile = 'knowledge/talk.yaml';
  const source = readFileSync(realFile, 'utf8');
  const real = parseTalkFile(realFile, source);
  // Each distractor with its text, as loadKnowledge reads a file (JSON is YAML).
  const files = [
    { file: realFile, data: real, source },
    ...distractorTalks(real, talks).map((data, i) => ({ file: `distractor-${i + 1}`, data, source: JSON.stringify(data) })),
  ];
  const heapBefore = await settledHeapBytes();
  const t0 = performance.now();
  const knowledge = buildKnowledge(files);
  const search = new SearchIndex(knowledge);
  const build = performance.now() - t0;
  const heap = ((await settledHeapBytes()) - heapBefore) / 1024 / 1024;

  const questions = benchQuestions();
  const qIters = Math.max(questions.length * 20, 2000);
  const status = await timeIt(5000, 500, (i) => search.findTopic(STATUS_QUERIES[i % STATUS_QUERIES.length]!));
  const question = await timeIt(qIters, 300, (i) => search.ask(questions[i % questions.length]!));

  return {
    talks,
    points: knowledge.points.length,
    build_ms: round(build, 1),
    status_p99: round(percentile(status, 99), 4),
    question_p50: round(percentile(question, 50), 4),
    question_p99: round(percentile(question, 99), 4),
    accuracy: round(accuracy(search, loadQuestions('words')).accuracy, 1),
    accuracy_chat: round(accuracy(search, loadQuestions('chat')).accuracy, 1),
    heap_mb: round(heap, 1),
    samples: { status: status.length, question: question.length },
  };
}
