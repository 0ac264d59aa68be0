import { defineCommand } from '../src/core/command.js';
import { talkFooter } from '../src/core/views.js';

export default defineCommand({
  name: 'about',
  description: 'About the talk this bot answers from, and where the knowledge comes from',
  examples: ['about'],
  run({ knowledge }) {
    const lines: string[] = [];
    for (const talk of knowledge.talks) {
      if (knowledge.talks.length > 1) lines.push(`Talk: ${talk.title}`);
      if (talk.titleNote) lines.push(`Title: ${talk.titleNote}`);
      lines.push(`Speaker: ${talk.speaker ?? talk.speakerNote ?? 'not named'}`);
      if (talk.era) lines.push(`When: ${talk.era}`);
      lines.push(`Pages: ${talk.pages}; ${talk.topics.length} topics, ${talk.pointCount} quoted points`);
      lines.push(`Source: ${talk.source}`);
    }
    lines.push(`Knowledge version ${knowledge.version}, loaded ${knowledge.loadedAt.toISOString()}`);
    return {
      kind: 'info',
      title: knowledge.talks.length === 1 ? knowledge.talks[0]!.title : `${knowledge.talks.length} talks`,
      summary:
        'I answer from the slides of a talk on the state of Linux kernel development, quoting the speaker with page numbers. Verdicts and one-line summaries are editorial and each rests on a quote.',
      lines,
      footer: talkFooter(knowledge),
    };
  },
});
