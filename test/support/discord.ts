import type { APIEmbed } from 'discord.js';

/** A request the fake Discord recorded (enough of it for the predicates below). */
interface Request {
  method: string;
  path: string;
}

/** A POST of a channel message (a reply to a mention, or a digest post). */
export const isMessagePost = (r: Request): boolean => r.method === 'POST' && /^\/channels\/\d+\/messages$/.test(r.path);

/** A bulk overwrite of slash commands (global or guild). */
export const isCommandPut = (r: Request): boolean => r.method === 'PUT' && /\/commands$/.test(r.path);

/** The characters Discord counts against an embed's 6,000 total: title, description, footer, author and fields. */
export function embedSize(e: APIEmbed): number {
  return (
    (e.title ?? '').length +
    (e.description ?? '').length +
    (e.footer?.text ?? '').length +
    (e.author?.name ?? '').length +
    (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}
