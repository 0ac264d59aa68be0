import { defineCommand } from '../src/core/command.js';
import { boardReply, noTopicReply, statusReply } from '../src/core/views.js';

export default defineCommand({
  name: 'status',
  description: "The talk's assessment of a topic, or the status board of every topic",
  aliases: ['board'],
  options: [
    { name: 'topic', description: 'Topic, e.g. filesystems, fs, mm, kvm, tracing', type: 'string', autocomplete: 'topics', maxLength: 100 },
    { name: 'from', description: 'Start at this point of the topic (a long reply says where it stopped)', type: 'integer' },
  ],
  examples: ['status filesystems', 'status fs', 'status'],
  run({ knowledge, search }, args) {
    const query = args.topic;
    if (query === undefined || query.trim() === '') return boardReply(knowledge, knowledge.topics);
    const found = search.findTopic(query);
    if (found.kind === 'none') return noTopicReply(knowledge, query, found.suggestions);
    const from = typeof args.from === 'number' ? args.from : 1;
    const count = found.topic.points.length;
    if (from < 1 || from > count) return { kind: 'usage', summary: `${found.topic.title} has ${count} points; from must be 1 to ${count}.`, private: true };
    return statusReply(knowledge, found.topic, from);
  },
});
