import type { Knowledge, Topic } from '../knowledge/model.js';
import type { Reply } from '../core/reply.js';
import { boardReply, statusReply } from '../core/views.js';
import type { Subscription } from './store.js';

/** The topics a subscription covers in the current knowledge (topics removed by a reload drop out). */
export function topicsOf(k: Knowledge, sub: Pick<Subscription, 'allTopics' | 'topics'>): Topic[] {
  if (sub.allTopics) return [...k.topics];
  return sub.topics.map((id) => k.topicById.get(id)).filter((t): t is Topic => t !== undefined);
}

/**
 * What a digest post says at rotation `position`: one topic (rotate) or the
 * board (board). Topics whose content hash changed since this subscription
 * last posted them are marked. Returns the hashes to remember after posting.
 */
export function digestContent(k: Knowledge, sub: Subscription, position: number): { reply: Reply; hashes: Record<string, string> } {
  const topics = topicsOf(k, sub);
  const hashes = { ...sub.lastHashes };
  const changed = (t: Topic) => sub.lastHashes[t.id] !== undefined && sub.lastHashes[t.id] !== t.hash;
  if (topics.length === 0) {
    return {
      reply: { kind: 'info', title: 'Digest', summary: 'The topics of this digest are no longer in the knowledge. Unsubscribe or subscribe to other topics.' },
      hashes,
    };
  }
  if (sub.mode === 'rotate') {
    const topic = topics[position % topics.length]!;
    const base = statusReply(k, topic);
    hashes[topic.id] = topic.hash;
    const reply: Reply = {
      ...base,
      title: `${changed(topic) ? 'Updated: ' : 'Digest: '}${topic.title}`,
      ...(changed(topic) ? { lines: ['What the talk says on this topic has changed since the last digest.'] } : {}),
      footer: `${base.footer ?? ''} · digest ${sub.id} (${(position % topics.length) + 1}/${topics.length})`,
    };
    return { reply, hashes };
  }
  const board = boardReply(k, topics, 'Digest: status board');
  for (const t of topics) hashes[t.id] = t.hash;
  board.rows = board.rows!.map((r) => (changed(k.topicById.get(r.topicId)!) ? { ...r, summary: `(updated) ${r.summary}` } : r));
  board.footer = `${board.footer ?? ''} · digest ${sub.id}`;
  return { reply: board, hashes };
}
