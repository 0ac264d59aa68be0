import { defineCommand } from '../src/core/command.js';
import { boardReply, noTopicReply, statusReply } from '../src/core/views.js';

export default defineCommand({
  name: 'status',
  description: "The talk's assessment of a topic, or the status board of every topic",
  aliases: ['board'],
  options: [
    { name: 'topic', description: 'Topic, e.g. filesystems, fs, mm, kvm, tracing', type: 'string', autocomplete: 'topics', maxLength: 100 },
  ],
  examples: ['status filesystems', 'status fs', 'status'],
  run({ knowledge, search }, args) {
    const query = args.topic;
    if (query === undefined || query.trim() === '') return boardReply(knowledge, knowledge.topics);
    const found = search.findTopic(query);
    if (found.kind === 'none') return noTopicReply(knowledge, query, found.suggestions);
    return statusReply(knowledge, found.topic);
  },
});
