import { defineCommand, serviceKey } from '../src/core/command.js';
import { replies } from '../src/core/reply.js';
import { SCHEDULE_PRESETS } from '../src/digest/schedule.js';
import type { DigestService } from '../src/digest/service.js';

/** What /digest needs: the digest service (absent in the one-shot CLI). */
export const digestService = serviceKey<Pick<DigestService, 'subscribe' | 'unsubscribe' | 'preview' | 'list'>>('digests');

export default defineCommand({
  name: 'digest',
  description: 'Scheduled topic digests posted into this channel or room',
  subcommands: [
    {
      name: 'subscribe',
      description: 'Post a digest here on a schedule (managers only)',
      permission: 'manager',
      options: [
        {
          name: 'topics',
          description: 'One topic, several separated by commas, or all',
          type: 'string',
          required: true,
          autocomplete: 'topics',
          maxLength: 500,
        },
        {
          name: 'schedule',
          description: 'Cron (e.g. "0 9 * * 1") or daily [HH:MM], weekly [day] [HH:MM]',
          type: 'string',
          required: true,
          maxLength: 100,
          suggestions: SCHEDULE_PRESETS,
        },
        { name: 'timezone', description: 'IANA time zone, e.g. Europe/Berlin (default UTC)', type: 'string', maxLength: 64 },
        { name: 'mode', description: 'rotate: one topic per post; board: the status board', type: 'string', required: true, choices: ['rotate', 'board'] },
      ],
    },
    { name: 'list', description: "This channel's digests and their next run" },
    {
      name: 'unsubscribe',
      description: 'Stop a digest (managers only)',
      permission: 'manager',
      options: [{ name: 'id', description: 'The digest ID from the list', type: 'string', required: true, maxLength: 40 }],
    },
    {
      name: 'preview',
      description: 'What the next post of a digest will look like (only you see it)',
      private: true,
      options: [{ name: 'id', description: 'The digest ID (default: the first one here)', type: 'string', maxLength: 40 }],
    },
  ],
  examples: [
    'digest subscribe topics:all schedule:"0 9 * * 1" mode:rotate',
    'digest subscribe topics:fs,mm schedule:"weekly fri 17:00" timezone:Europe/Berlin mode:board',
    'digest list',
    'digest unsubscribe id:k3f9x2ab',
    'digest preview',
  ],
  run({ services, message }, args) {
    const digests = services.get(digestService);
    if (!digests) return replies.error('Digests are not available in this setup.');
    switch (args.subcommand) {
      case 'subscribe':
        return digests.subscribe(message, { topics: args.topics, schedule: args.schedule, timezone: args.timezone, mode: args.mode });
      case 'unsubscribe':
        return digests.unsubscribe(message, args.id);
      case 'preview':
        return digests.preview(message, args.id);
      default:
        return digests.list(message);
    }
  },
});
