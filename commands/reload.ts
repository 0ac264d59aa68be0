import { defineCommand, serviceKey } from '../src/core/command.js';
import { replies } from '../src/core/reply.js';

/** What /reload needs: reload the knowledge now and say how it went. */
export const reloadKnowledge = serviceKey<() => { ok: true; version: string; topics: number } | { ok: false; reason: string }>('reload');

export default defineCommand({
  name: 'reload',
  description: 'Reload the knowledge files now (managers only)',
  permission: 'manager',
  hideable: false,
  examples: ['reload'],
  run({ services }) {
    const reload = services.get(reloadKnowledge);
    if (!reload) return replies.error('Reloading is not available in this setup.');
    const r = reload();
    if (!r.ok) return replies.error(`The knowledge was not reloaded; the old one stays. ${r.reason}`);
    return { kind: 'info', title: 'Knowledge reloaded', summary: `Version ${r.version}, ${r.topics} topics.`, private: true };
  },
});
