import { escapeMarkdown, MessageFlags } from 'discord.js';
import type { APIEmbed } from 'discord.js';
import { ellipsis } from '../../core/ellipsis.js';
import type { Block, BulletBlock } from '../../core/layout.js';
import { layout, sourcedLines } from '../../core/layout.js';
import type { Reply } from '../../core/reply.js';
import { VERDICT_LABEL, moreOf } from '../../core/reply.js';

/** Discord's documented limits (characters). */
export const LIMITS = {
  content: 2000,
  embedTitle: 256,
  embedDescription: 4096,
  fieldName: 256,
  fieldValue: 1024,
  fields: 25,
  footer: 2048,
  embedTotal: 6000,
  autocompleteChoices: 25,
  choiceName: 100,
} as const;

const COLOUR = { good: 0x2ecc71, mixed: 0xf1c40f, concern: 0xe74c3c, unrated: 0x95a5a6 } as const;
const NEUTRAL = 0x5865f2;
const PROBLEM = 0x99aab5;

/** The rendered reply: one embed within every limit. */
export interface DiscordMessage {
  embeds: APIEmbed[];
}

/** Mentions are never parsed from our text, and a reply does not ping the person it answers. */
export const NO_MENTIONS = { parse: [], replied_user: false } as const;

/** The JSON body of every message the bot sends (a channel message, a reply, or an interaction response's `data`). */
export interface MessageBody {
  embeds: APIEmbed[];
  allowed_mentions: typeof NO_MENTIONS;
  flags?: number;
  nonce?: string;
  enforce_nonce?: true;
  message_reference?: { message_id: string; fail_if_not_exists: true };
}

/**
 * The one place a Discord message body is built: the rendered reply plus mention safety. `ephemeral` for
 * interaction responses only the asker sees; `replyTo` answers a message; `nonce` makes a re-send show once.
 */
export function messageBody(reply: Reply, how: { ephemeral?: boolean; replyTo?: string; nonce?: string } = {}): MessageBody {
  return {
    embeds: renderDiscord(reply).embeds,
    allowed_mentions: NO_MENTIONS,
    ...(how.ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
    ...(how.nonce ? { nonce: how.nonce.slice(0, 25), enforce_nonce: true as const } : {}),
    ...(how.replyTo ? { message_reference: { message_id: how.replyTo, fail_if_not_exists: true as const } } : {}),
  };
}

/** The only characters discord.js's `escapeMarkdown` (default options) ever escapes. */
const MARKDOWN_SPECIAL = /[\\`*_~|]/;

/**
 * Escapes Markdown in text that is not ours to format (quotes, user input): exactly `escapeMarkdown(s)`.
 * Its italic escaper backtracks over every character before each position (about 0.3 ms for one topic's
 * points), so text without any character it could escape is returned as it is.
 */
export function md(s: string): string {
  return MARKDOWN_SPECIAL.test(s) ? escapeMarkdown(s) : s;
}

/** A point as a description line: sub-bullets indented. */
function pointLine(b: BulletBlock): string {
  const text = b.source === undefined ? md(b.text) : `“${md(b.text)}” (${md(b.source)})`;
  return `${b.depth === 1 ? '\u2003◦' : '•'} ${b.lead ? `**${md(b.lead)}**: ` : ''}${text}`;
}

/** The description's head: what is kept (clipped) when points are cut. */
function headLines(blocks: readonly Block[]): string[] {
  const head: string[] = [];
  for (const b of blocks) {
    if (b.type === 'paragraph') {
      const lines = sourcedLines(b);
      head.push(...(b.lead ? [`${b.lead} ${lines[0] ?? ''}`, ...lines.slice(1)] : lines).map(md));
    } else if (b.type === 'suggestions') head.push(`Did you mean: ${b.commands.map((s) => `\`/${s.replace(/`/g, '')}\``).join(', ')}?`);
  }
  return head;
}

/** Board rows as fields, within the field limits and what is left of the embed's budget. */
function rowFields(rows: readonly BulletBlock[], budget: number, more: string): { name: string; value: string }[] {
  const fields: { name: string; value: string }[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const field = {
      name: ellipsis(`${r.label!.title} · ${VERDICT_LABEL[r.label!.verdict]}`, LIMITS.fieldName),
      value: ellipsis(md(r.text), LIMITS.fieldValue),
    };
    const left = rows.length - i;
    const lastSlot = fields.length === LIMITS.fields - 1;
    const cost = field.name.length + field.value.length;
    if ((lastSlot && left > 1) || cost > budget - 80) {
      fields.push({ name: `… ${left} more`, value: `Use ${more} for one topic.` });
      break;
    }
    fields.push(field);
    budget -= cost;
  }
  return fields;
}

function colour(reply: Reply): number {
  if (reply.verdict) return COLOUR[reply.verdict];
  return reply.kind === 'board' || reply.kind === 'info' || reply.kind === 'topics' ? NEUTRAL : PROBLEM;
}

/**
 * Renders a reply model as one embed within every Discord limit. What does
 * not fit is cut at a point (or row) boundary, with a pointer to the command
 * that shows the rest.
 */
export function renderDiscord(reply: Reply): DiscordMessage {
  const blocks = layout(reply);
  const heading = blocks.find((b) => b.type === 'heading');
  const foot = blocks.find((b) => b.type === 'footer');
  const title = heading?.title
    ? ellipsis([heading.title, heading.verdict ? `· ${VERDICT_LABEL[heading.verdict]}` : ''].filter(Boolean).join(' '), LIMITS.embedTitle)
    : undefined;
  const footer = foot ? ellipsis(foot.text, LIMITS.footer) : undefined;
  const more = `/${moreOf(reply, 0)}`;
  // Characters left for description + fields once title and footer are counted.
  let budget = LIMITS.embedTotal - (title?.length ?? 0) - (footer?.length ?? 0);

  const head = headLines(blocks);
  const bullets = blocks.filter((b) => b.type === 'bullet');
  const points = bullets.filter((b) => !b.label);
  const lines = [...head, ...points.map(pointLine)];
  const description = fitLines(lines, Math.min(LIMITS.embedDescription, budget), head.length, (n) => `… ${n} more: see /${moreOf(reply, points.length - n)}`);
  budget -= description.length;
  const fields = rowFields(
    bullets.filter((b) => b.label),
    budget,
    more,
  );

  const embed: APIEmbed = {
    color: colour(reply),
    ...(title ? { title } : {}),
    ...(description ? { description } : {}),
    ...(fields.length ? { fields } : {}),
    ...(footer ? { footer: { text: footer } } : {}),
  };
  return { embeds: [embed] };
}

/**
 * Joins lines with newlines up to `max` characters. Lines are kept whole;
 * when one does not fit, the rest are replaced by `tail(n)`. The first
 * `keep` lines are clipped rather than dropped.
 */
export function fitLines(lines: string[], max: number, keep: number, tail: (n: number) => string): string {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const line = i < keep ? ellipsis(lines[i]!, Math.max(0, max - 200 - out.length)) : lines[i]!;
    const next = out ? `${out}\n${line}` : line;
    const reserve = i < lines.length - 1 ? tail(lines.length - i - 1).length + 1 : 0;
    if (next.length + reserve > max) {
      const t = tail(lines.length - i);
      return ellipsis(out ? `${out}\n${t}` : t, max);
    }
    out = next;
  }
  return out;
}

/** Autocomplete choices within Discord's limits. */
export function renderChoices(choices: { name: string; value: string }[]): { name: string; value: string }[] {
  return choices.slice(0, LIMITS.autocompleteChoices).map((c) => ({ name: ellipsis(c.name, LIMITS.choiceName), value: ellipsis(c.value, LIMITS.choiceName) }));
}
