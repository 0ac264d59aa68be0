import { defineCommand } from '../src/core/command.js';
import { replies } from '../src/core/reply.js';

export default defineCommand({
  name: 'reload',
  description: 'Reload the knowledge files now (managers only)',
  permission: 'manager',
  hideable: false,
  examples: ['reload'],
  run({ services }) {
    if (!services.reload) return replies.error('Reloading is not available in this setup.');
    const r = services.reload();
    if (!r.ok) return replies.error(`The knowledge was not reloaded; the old one stays. ${r.reason}`);
    return { kind: 'info', title: 'Knowledge reloaded', summary: `Version ${r.version}, ${r.topics} topics.`, private: true };
  },
});
