import { defineCommand } from '../src/core/command.js';
import { talkFooter } from '../src/core/views.js';

export default defineCommand({
  name: 'topics',
  description: 'The topics of the talk, with the names you can use for them',
  examples: ['topics'],
  run({ knowledge, prefix }) {
    return {
      kind: 'topics',
      title: `Topics (${knowledge.topics.length})`,
      lines: knowledge.topics.map((t) => {
        const pages = t.pages.length === 0 ? 'overview only' : t.pages.length === 1 ? `p. ${t.pages[0]}` : `pp. ${t.pages[0]}–${t.pages[t.pages.length - 1]}`;
        const aka = t.aliases.length ? ` (also: ${t.aliases.slice(0, 6).join(', ')})` : '';
        return `• ${t.id}: ${t.title}, ${pages}${aka}`;
      }),
      footer: `${talkFooter(knowledge)} · ${prefix}status <topic> for details`,
    };
  },
});
