import { readFileSync } from 'node:fs';
import { buildKnowledge, parseTalkFile } from '../../src/knowledge/load.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { accuracy, loadQuestions } from '../support/quality.js';
import { distractorTalks } from './distractors.js';
import { median, percentile, round, settledHeapBytes, timeIt } from './stats.js';

/**
 * Builds timed per scale step: the figure is their median. One build of a second or more is one sample of a machine
 * whose speed moves by a third from one minute to the next (the same code took 1.24–1.95 s in 12 fresh processes
 * over two minutes); a median of five is a figure a change can be compared against.
 */
export const BUILD_RUNS = 5;

export interface ScaleRow {
  talks: number;
  points: number;
  /** Median of BUILD_RUNS builds (knowledge load and index); `build_runs_ms`: each of them, in order. */
  build_ms: number;
  build_runs_ms: number[];
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
  const builds: number[] = [];
  const build = () => {
    const t0 = performance.now();
    const knowledge = buildKnowledge(files);
    const search = new SearchIndex(knowledge);
    builds.push(performance.now() - t0);
    return { knowledge, search };
  };
  // Every build but the last is dropped and collected before the next; the last one is measured and queried.
  for (let r = 1; r < BUILD_RUNS; r++) {
    build();
    await settledHeapBytes();
  }
  const { knowledge, search } = build();
  const heap = ((await settledHeapBytes()) - heapBefore) / 1024 / 1024;

  const questions = benchQuestions();
  const qIters = Math.max(questions.length * 20, 2000);
  const status = await timeIt(5000, 500, (i) => search.findTopic(STATUS_QUERIES[i % STATUS_QUERIES.length]!));
  const question = await timeIt(qIters, 300, (i) => search.ask(questions[i % questions.length]!));

  return {
    talks,
    points: knowledge.points.length,
    build_ms: round(median(builds), 1),
    build_runs_ms: builds.map((b) => round(b, 1)),
    status_p99: round(percentile(status, 99), 4),
    question_p50: round(percentile(question, 50), 4),
    question_p99: round(percentile(question, 99), 4),
    accuracy: round(accuracy(search, loadQuestions('words')).accuracy, 1),
    accuracy_chat: round(accuracy(search, loadQuestions('chat')).accuracy, 1),
    heap_mb: round(heap, 1),
    samples: { status: status.length, question: question.length },
  };
}
