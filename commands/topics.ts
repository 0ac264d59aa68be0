import { defineCommand } from '../src/core/command.js';
import { talkFooter } from '../src/core/views.js';

export default defineCommand({
  name: 'topics',
  description: 'The topics of the talk, with the names you can use for them',
  examples: ['topics'],
  run({ knowledge, search, prefix }) {
    return {
      kind: 'topics',
      title: `Topics (${knowledge.topics.length})`,
      lines: knowledge.topics.map((t) => {
        const pages = t.pages.length === 0 ? 'overview only' : t.pages.length === 1 ? `p. ${t.pages[0]}` : `pp. ${t.pages[0]}–${t.pages[t.pages.length - 1]}`;
        const names = [...t.aliases.slice(0, 6), ...search.glossaryNames(t).slice(0, 3)];
        const aka = names.length ? ` (also: ${names.join(', ')})` : '';
        return `• ${t.id}: ${t.title}, ${pages}${aka}`;
      }),
      footer: `${talkFooter(knowledge)} · ${prefix}status <topic> for details`,
    };
  },
});
