import { defineCommand } from '../src/core/command.js';
import { answerReply } from '../src/core/views.js';

export default defineCommand({
  name: 'ask',
  description: 'Ask a question about the talk; the best matching points come back with their pages',
  options: [{ name: 'question', description: 'Your question, e.g. what does the talk say about btrfs?', type: 'string', required: true, maxLength: 2000 }],
  examples: ['ask what does the talk say about btrfs?', 'ask who maintains x86?'],
  run({ knowledge, search }, args) {
    return answerReply(knowledge, args.question, search.ask(args.question));
  },
});
