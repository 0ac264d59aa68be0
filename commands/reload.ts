import { defineCommand } from '../src/core/command.js';

export default defineCommand({
  name: 'reload',
  description: 'Reload the knowledge files now (managers only)',
  permission: 'manager',
  hideable: false,
  examples: ['reload'],
  run({ services }) {
    if (!services.reload) return { kind: 'error', summary: 'Reloading is not available in this setup.', private: true };
    const r = services.reload();
    if (!r.ok) return { kind: 'error', summary: `The knowledge was not reloaded; the old one stays. ${r.reason}`, private: true };
    return { kind: 'info', title: 'Knowledge reloaded', summary: `Version ${r.version}, ${r.topics} topics.`, private: true };
  },
});
