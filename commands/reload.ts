import { defineCommand, serviceKey } from '../src/core/command.js';
import { replies } from '../src/core/reply.js';

/** What /reload needs: reload the knowledge now and say how it went. */
export const reloadKnowledge = serviceKey<() => { ok: true; version: string; topics: number } | { ok: false; reason: string }>('reload');

export default defineCommand({
  name: 'reload',
  description: 'Reload the knowledge files now (bot administrators only)',
  permission: 'admin',
  hideable: false,
  examples: ['reload'],
  run({ services }) {
    const reload = services.get(reloadKnowledge);
    if (!reload) return replies.error('Reloading is not available in this setup.');
    const r = reload();
    // The reason names server files: it goes to the log (the reload service writes it there), not to chat.
    if (!r.ok) return replies.error("The knowledge was not reloaded: the new files are invalid, so the loaded version stays. The reason is in the bot's log.");
    return { kind: 'info', title: 'Knowledge reloaded', summary: `Version ${r.version}, ${r.topics} topics.`, private: true };
  },
});
