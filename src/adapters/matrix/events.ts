/** Pure helpers for reading Matrix events: mentions, reply fallbacks, invite policy. */

export interface MessageContent {
  msgtype?: string;
  body?: unknown;
  format?: string;
  formatted_body?: unknown;
  'm.mentions'?: { user_ids?: unknown; room?: unknown };
  'm.relates_to'?: { rel_type?: string; 'm.in_reply_to'?: { event_id?: string } };
  'm.new_content'?: unknown;
}

/** Removes a rich-reply fallback: leading "> " quote lines of `body` and the <mx-reply> block of HTML. */
export function stripReplyFallback(body: string, formatted?: string): { body: string; formatted?: string } {
  const strippedFormatted = formatted?.replace(/<mx-reply>[\s\S]*?<\/mx-reply>/gi, '');
  if (!body.startsWith('> <') && !body.startsWith('> * <')) return { body, formatted: strippedFormatted };
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('>')) i++;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  return { body: lines.slice(i).join('\n'), formatted: strippedFormatted };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The patterns that find the bot in a message, for one (user id, display name): built once, not per message. */
interface AddressPatterns {
  botId: string;
  displayName: string | undefined;
  namePrefix: RegExp | undefined;
  idAnywhere: RegExp;
}
let lastPatterns: AddressPatterns | undefined;

function addressPatterns(botId: string, displayName: string | undefined): AddressPatterns {
  if (lastPatterns?.botId === botId && lastPatterns.displayName === displayName) return lastPatterns;
  lastPatterns = {
    botId,
    displayName,
    namePrefix: displayName ? new RegExp(`^\\s*@?${escapeRegExp(displayName)}(?:\\s*[:,]\\s*|\\s+)`, 'i') : undefined,
    idAnywhere: new RegExp(escapeRegExp(botId), 'g'),
  };
  return lastPatterns;
}

/**
 * Whether an event addresses the bot, and the text without the address.
 * `m.mentions` decides alone when present (spec v1.7); otherwise a pill to
 * the bot in the HTML, its user id in the body, or its display name at the
 * start of the body ("kbot: what about btrfs?").
 */
export function readMention(content: MessageContent, botId: string, displayName: string | undefined): { mentioned: boolean; text: string } {
  const raw = typeof content.body === 'string' ? content.body : '';
  const { body, formatted } = stripReplyFallback(raw, typeof content.formatted_body === 'string' ? content.formatted_body : undefined);
  // `replace` with a global pattern and `test` with a non-global one leave no lastIndex behind: safe to share.
  const { namePrefix, idAnywhere } = addressPatterns(botId, displayName);
  const text = (body.includes(botId) ? body.replace(idAnywhere, ' ') : body).replace(namePrefix ?? /^$/, '').trim();
  const mentions = content['m.mentions'];
  if (mentions && typeof mentions === 'object') {
    const ids = Array.isArray(mentions.user_ids) ? mentions.user_ids : [];
    return { mentioned: ids.includes(botId), text };
  }
  const pill = formatted !== undefined && (formatted.includes(`matrix.to/#/${botId}`) || formatted.includes(`matrix.to/#/${encodeURIComponent(botId)}`));
  const mentioned = pill || body.includes(botId) || (namePrefix?.test(body) ?? false);
  return { mentioned, text };
}

/** True for edits (`m.replace`), which the bot ignores. */
export function isEdit(content: MessageContent): boolean {
  return content['m.relates_to']?.rel_type === 'm.replace' || content['m.new_content'] !== undefined;
}

/**
 * Whether an inviter may bring the bot into a room. `allow` is a comma-separated
 * list of user ids or `*:server`, or `*` for anyone; unset means users of the
 * bot's own server.
 */
export function inviteAllowed(inviter: string, allow: string | undefined, botId: string): boolean {
  const own = botId.slice(botId.indexOf(':') + 1);
  const rules = (allow ?? `*:${own}`)
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const server = inviter.slice(inviter.indexOf(':') + 1);
  return rules.some((r) => r === '*' || r === inviter || (r.startsWith('*:') && r.slice(2) === server));
}
