import { readFileSync } from 'node:fs';
import Fuse from 'fuse.js';
import { buildKnowledge, parseTalkFile } from '../../src/knowledge/load.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { accuracy, loadQuestions } from '../support/quality.js';
import { distractorTalks } from './distractors.js';
import { percentile, round, timeIt } from './stats.js';

export interface ScaleRow {
  talks: number;
  points: number;
  build_ms: number;
  status_p99: number;
  question_p99: number;
  naive_question_p99: number;
  accuracy: number;
  heap_mb: number;
  samples: { status: number; question: number; naive: number };
}

const STATUS_QUERIES = ['fs', 'filesystems', 'mm', 'kvm', 'tracing', 'rt', 'next', 'containers', 'ras', 'x86', 'filesytems', 'virtualization'];

/** One scale step: the real talk plus talks−1 distractors; index build, lookups, the naive peer, accuracy, heap. */
export async function measureScale(talks: number): Promise<ScaleRow> {
  const realFile = 'knowledge/talk.yaml';
  const real = parseTalkFile(realFile, readFileSync(realFile, 'utf8'));
  const files = [{ file: realFile, data: real }, ...distractorTalks(real, talks).map((data, i) => ({ file: `distractor-${i + 1}`, data }))];
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const knowledge = buildKnowledge(files);
  const search = new SearchIndex(knowledge);
  const build = performance.now() - t0;
  globalThis.gc?.();
  const heap = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;

  const questions = loadQuestions().filter((q) => !q.q.startsWith('/status'));
  const qIters = Math.max(questions.length * 20, 2000);
  const status = await timeIt(5000, 500, (i) => search.findTopic(STATUS_QUERIES[i % STATUS_QUERIES.length]!));
  const question = await timeIt(qIters, 300, (i) => search.ask(questions[i % questions.length]!.q));

  // The peer a user would write first: one fuse.js over all points, default options, the whole question as pattern.
  const naiveFuse = new Fuse(knowledge.points, { keys: ['text'] });
  const naiveIters = talks >= 1000 ? questions.length : talks >= 100 ? questions.length * 3 : 1000;
  const naive = await timeIt(naiveIters, talks >= 100 ? 2 : 50, (i) => naiveFuse.search(questions[i % questions.length]!.q));

  return {
    talks,
    points: knowledge.points.length,
    build_ms: round(build, 1),
    status_p99: round(percentile(status, 99), 4),
    question_p99: round(percentile(question, 99), 4),
    naive_question_p99: round(percentile(naive, 99), 3),
    accuracy: round(accuracy(search).accuracy, 1),
    heap_mb: round(heap, 1),
    samples: { status: status.length, question: question.length, naive: naive.length },
  };
}
