import type { Knowledge, Point, Topic } from '../knowledge/model.js';
import type { QuestionResult } from '../knowledge/search.js';
import { ellipsis } from './ellipsis.js';
import type { Citation, Reply } from './reply.js';
import { replies } from './reply.js';

/** Names the talk (or talks) for reply footers. */
export function talkFooter(k: Knowledge): string {
  if (k.talks.length !== 1) return `From ${k.talks.length} talks on Linux kernel development`;
  const t = k.talks[0]!;
  return `From the talk “${t.title}”${t.era ? `, ${t.era.replace(/ \(.*\)$/, '')}` : ''}`;
}

/** A point of the talk as a reply citation. */
export function cite(p: Point, topic: Topic): Citation {
  const c: Citation = { text: p.text, page: p.page, topicId: topic.id, topicTitle: topic.title };
  if (p.parent) c.parent = p.parent;
  return c;
}

/** `/status <topic>`: verdict, the quote it rests on, summary, and every point with its page. */
export function statusReply(k: Knowledge, topic: Topic, from = 1): Reply {
  const quote = topic.verdictQuote;
  let quotePage: number | undefined;
  const points: Citation[] = [];
  for (const p of topic.points) {
    if (quote && quotePage === undefined && p.text.includes(quote)) quotePage = p.page;
    points.push(cite(p, topic));
  }
  const first = Math.min(Math.max(1, Math.trunc(from)), Math.max(1, points.length));
  return {
    kind: 'status',
    title: topic.title,
    verdict: topic.verdict,
    summary: topic.summary,
    ...(quote && quotePage ? { verdictQuote: { text: quote, page: quotePage } } : {}),
    ...(first > 1 ? { lines: [`Points ${first}–${points.length} of ${points.length}`] } : {}),
    points: first > 1 ? points.slice(first - 1) : points,
    ...(first > 1 ? { firstPoint: first } : {}),
    footer: talkFooter(k),
    more: `status ${topic.id} from:{next}`,
  };
}

/** `/status` without a topic: each topic with its verdict and one line. */
export function boardReply(k: Knowledge, topics: readonly Topic[], title = 'Status board'): Reply {
  return {
    kind: 'board',
    title,
    rows: topics.map((t) => ({ topicId: t.id, title: t.title, verdict: t.verdict, summary: t.summary })),
    footer: talkFooter(k),
    more: 'status <topic>',
  };
}

/** A topic query that matched nothing: "did you mean" with up to three topics. */
export function noTopicReply(k: Knowledge, query: string, suggestions: readonly Topic[]): Reply {
  const text = `No topic matches “${ellipsis(query, 60)}”.`;
  if (suggestions.length) return replies.noMatch(text, { suggestions: suggestions.map((t) => `status ${t.id}`) });
  return replies.noMatch(text, {
    lines: [
      `Topics: ${k.topics
        .slice(0, 15)
        .map((t) => t.id)
        .join(', ')}${k.topics.length > 15 ? ', …' : ''}`,
    ],
  });
}

/** A free-text question: the best points across topics, or "no match". */
export function answerReply(k: Knowledge, question: string, result: QuestionResult): Reply {
  if (question.trim() === '') {
    return replies.usage('Ask me a question about the talk, e.g. “what does the talk say about btrfs?”');
  }
  const best = result.hits[0];
  if (!best && result.uncovered) {
    const subject = result.uncovered.length > 60 ? `${result.uncovered.slice(0, 59)}…` : result.uncovered;
    return {
      kind: 'no-match',
      summary: `The talk doesn't cover ${subject}.`,
      ...(result.suggestions.length
        ? { lines: ['Topics it does cover that come closest:'], suggestions: result.suggestions.slice(0, 3).map((t) => `status ${t.id}`) }
        : { suggestions: ['topics'] }),
      private: true,
    };
  }
  if (!best) {
    const text = 'I found nothing in the talk that answers that.';
    if (result.suggestions.length) return replies.noMatch(text, { suggestions: result.suggestions.map((t) => `status ${t.id}`) });
    return replies.noMatch(text, { lines: ['Try a topic name (filesystems, mm, kvm, tracing, …) or see the list of topics.'], suggestions: ['topics'] });
  }
  return {
    kind: 'answer',
    title: best.topic.title,
    verdict: best.topic.verdict,
    points: result.hits.map((h) => (h.label ? { ...cite(h.point, h.topic), label: h.label } : cite(h.point, h.topic))),
    footer: talkFooter(k),
    more: `status ${best.topic.id}`,
  };
}
