import { escapeMarkdown } from 'discord.js';
import type { APIEmbed } from 'discord.js';
import type { Reply } from '../../core/reply.js';
import { VERDICT_LABEL } from '../../core/reply.js';

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

/** The message body the adapter sends: never pings anyone, whatever the text says. */
export interface DiscordMessage {
  content?: string;
  embeds: APIEmbed[];
  allowedMentions: { parse: []; repliedUser: false };
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
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

/**
 * Renders a reply model as one embed within every Discord limit. What does
 * not fit is cut at a point (or row) boundary, with a pointer to the command
 * that shows the rest.
 */
export function renderDiscord(reply: Reply): DiscordMessage {
  const title = reply.title ? clip([reply.title, reply.verdict ? `· ${VERDICT_LABEL[reply.verdict]}` : ''].filter(Boolean).join(' '), LIMITS.embedTitle) : undefined;
  const footer = reply.footer ? clip(reply.footer, LIMITS.footer) : undefined;
  const more = reply.more ? `/${reply.more}` : '/help';
  // Characters left for description + fields once title and footer are counted.
  let budget = LIMITS.embedTotal - (title?.length ?? 0) - (footer?.length ?? 0);

  const head: string[] = [];
  if (reply.summary) head.push(md(reply.summary));
  if (reply.verdictQuote) head.push(`Verdict rests on: “${md(reply.verdictQuote.text)}” (p. ${reply.verdictQuote.page})`);
  if (reply.lines?.length) head.push(...reply.lines.map(md));
  if (reply.suggestions?.length) head.push(`Did you mean: ${reply.suggestions.map((s) => `\`/${s.replace(/`/g, '')}\``).join(', ')}?`);

  const withTopic = reply.kind === 'answer';
  const lines = [...head];
  for (const p of reply.points ?? []) {
    const where = withTopic ? `${md(p.topicTitle)}, p. ${p.page}` : `p. ${p.page}`;
    lines.push(`${p.parent && !withTopic ? '\u2003◦' : '•'} ${p.label ? `**${md(p.label)}**: ` : ''}“${md(p.text)}” (${where})`);
  }
  const descMax = Math.min(LIMITS.embedDescription, budget);
  const description = fitLines(lines, descMax, head.length, (n) => `… ${n} more: see ${more}`);
  budget -= description.length;

  const fields: { name: string; value: string }[] = [];
  const rows = reply.rows ?? [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const field = { name: clip(`${r.title} · ${VERDICT_LABEL[r.verdict]}`, LIMITS.fieldName), value: clip(md(r.summary), LIMITS.fieldValue) };
    const left = rows.length - i;
    const lastSlot = fields.length === LIMITS.fields - 1;
    const cost = field.name.length + field.value.length;
    if ((lastSlot && left > 1) || cost > budget - 80) {
      const note = { name: `… ${left} more`, value: `Use ${more} for one topic.` };
      fields.push(note);
      break;
    }
    fields.push(field);
    budget -= cost;
  }

  const embed: APIEmbed = {
    color: reply.verdict ? COLOUR[reply.verdict] : reply.kind === 'board' || reply.kind === 'info' || reply.kind === 'topics' ? NEUTRAL : PROBLEM,
    ...(title ? { title } : {}),
    ...(description ? { description } : {}),
    ...(fields.length ? { fields } : {}),
    ...(footer ? { footer: { text: footer } } : {}),
  };
  return { embeds: [embed], allowedMentions: { parse: [], repliedUser: false } };
}

/**
 * Joins lines with newlines up to `max` characters. Lines are kept whole;
 * when one does not fit, the rest are replaced by `tail(n)`. The first
 * `keep` lines are clipped rather than dropped.
 */
export function fitLines(lines: string[], max: number, keep: number, tail: (n: number) => string): string {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const line = i < keep ? clip(lines[i]!, Math.max(0, max - 200 - out.length)) : lines[i]!;
    const next = out ? `${out}\n${line}` : line;
    const reserve = i < lines.length - 1 ? tail(lines.length - i - 1).length + 1 : 0;
    if (next.length + reserve > max) {
      const t = tail(lines.length - i);
      return clip(out ? `${out}\n${t}` : t, max);
    }
    out = next;
  }
  return out;
}

/** Autocomplete choices within Discord's limits. */
export function renderChoices(choices: { name: string; value: string }[]): { name: string; value: string }[] {
  return choices.slice(0, LIMITS.autocompleteChoices).map((c) => ({ name: clip(c.name, LIMITS.choiceName), value: clip(c.value, LIMITS.choiceName) }));
}
