import { ellipsis } from '../../core/ellipsis.js';
import type { Block, BulletBlock } from '../../core/layout.js';
import { layout, sourcedLines } from '../../core/layout.js';
import { textOfBlocks } from '../../core/render-text.js';
import type { Reply } from '../../core/reply.js';
import { VERDICT_LABEL, moreOf } from '../../core/reply.js';

/** The spec's limit for a whole event, in bytes; we keep a margin for what the server adds (event id, sender, unsigned). */
export const MAX_EVENT_BYTES = 65_536;
const CONTENT_BUDGET = 60_000;

/** The HTML elements (and no attributes) `formatted_body` may contain. */
export const HTML_ALLOWLIST = ['p', 'strong', 'em', 'ul', 'li', 'br', 'code'] as const;

const HTML_ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const HTML_SPECIAL = /[&<>"']/g;
const HAS_HTML_SPECIAL = /[&<>"']/;
const entityOf = (c: string): string => HTML_ENTITY[c]!;

/** Escapes text for HTML: nothing a user typed can become markup. */
export function escapeHtml(s: string): string {
  return HAS_HTML_SPECIAL.test(s) ? s.replace(HTML_SPECIAL, entityOf) : s;
}

function bulletHtml(b: BulletBlock): string {
  if (b.label) return `<strong>${escapeHtml(b.label.title)}</strong> [${escapeHtml(VERDICT_LABEL[b.label.verdict])}]: ${escapeHtml(b.text)}`;
  const lead = b.lead ? `${escapeHtml(b.lead)}: ` : '';
  return lead + (b.source === undefined ? escapeHtml(b.text) : `“${escapeHtml(b.text)}” (${escapeHtml(b.source)})`);
}

/** Consecutive bullets as one list; a depth-1 bullet goes into a list nested in the item before it. */
function listHtml(items: readonly BulletBlock[]): string {
  let out = '<ul>';
  for (let i = 0; i < items.length; i++) {
    const b = items[i]!;
    const next = items[i + 1]?.depth ?? 0;
    out += `<li>${bulletHtml(b)}`;
    if (b.depth === 0) out += next === 1 ? '<ul>' : '</li>';
    else out += next === 1 ? '</li>' : '</li></ul></li>';
  }
  return `${out}</ul>`;
}

function blockHtml(b: Exclude<Block, BulletBlock>, prefix: string): string {
  switch (b.type) {
    case 'heading':
      return `<p>${[b.title ? `<strong>${escapeHtml(b.title)}</strong>` : '', b.verdict ? `[${escapeHtml(VERDICT_LABEL[b.verdict])}]` : ''].filter(Boolean).join(' ')}</p>`;
    case 'paragraph':
      return `<p>${b.lead ? `<em>${escapeHtml(b.lead)}</em> ` : ''}${sourcedLines(b).map(escapeHtml).join('<br>')}</p>`;
    case 'suggestions':
      return `<p>Did you mean: ${b.commands.map((s) => `<code>${escapeHtml(prefix + s)}</code>`).join(', ')}?</p>`;
    case 'footer':
      return `<p><em>${escapeHtml(b.text)}</em></p>`;
  }
}

function html(blocks: readonly Block[], prefix: string): string {
  let out = '';
  let list: BulletBlock[] = [];
  for (const b of blocks) {
    if (b.type === 'bullet') {
      list.push(b);
      continue;
    }
    if (list.length) out += listHtml(list);
    list = [];
    out += blockHtml(b, prefix);
  }
  return list.length ? out + listHtml(list) : out;
}

/**
 * True when the content cannot exceed the budget, without serialising it: JSON writes a UTF-16 code unit
 * as at most 6 bytes (`\u001f`; otherwise at most 3 bytes of UTF-8), and the fixed keys take under 512.
 */
function surelyFits(c: NoticeContent): boolean {
  const units = c.body.length + c.formatted_body.length + (c['m.relates_to']?.['m.in_reply_to'].event_id.length ?? 0);
  return 6 * units + 512 <= CONTENT_BUDGET;
}

export interface NoticeContent {
  msgtype: 'm.notice';
  body: string;
  format: 'org.matrix.custom.html';
  formatted_body: string;
  'm.mentions': Record<string, never>;
  'm.relates_to'?: { 'm.in_reply_to': { event_id: string } };
}

/** The blocks as notice content, whatever their size. */
function notice(blocks: readonly Block[], prefix: string, inReplyTo: string | undefined): NoticeContent {
  const c: NoticeContent = {
    msgtype: 'm.notice',
    body: textOfBlocks(blocks, prefix).join('\n'),
    format: 'org.matrix.custom.html',
    formatted_body: html(blocks, prefix),
    'm.mentions': {},
  };
  if (inReplyTo) c['m.relates_to'] = { 'm.in_reply_to': { event_id: inReplyTo } };
  return c;
}

/**
 * A reply as an `m.notice` event: plain `body`, escaped HTML, an explicit
 * empty `m.mentions` (nobody is notified, never the room: without it clients
 * fall back to push rules that read "@room" in the body) and, for answers,
 * a rich-reply relation without the obsolete fallback quote. Over the size
 * limit, whole points (or rows) are dropped from the end with a pointer;
 * failing that, long texts are clipped.
 */
export function renderMatrix(reply: Reply, prefix: string, inReplyTo?: string): NoticeContent {
  const blocks = layout(reply);
  const whole = notice(blocks, prefix, inReplyTo);
  if (surelyFits(whole) || fitsBudget(whole)) return whole;
  return shortened(
    blocks,
    (shown) => `${prefix}${moreOf(reply, shown)}`,
    (b) => notice(b, prefix, inReplyTo),
  );
}

function fitsBudget(c: NoticeContent): boolean {
  return Buffer.byteLength(JSON.stringify(c)) <= CONTENT_BUDGET;
}

/** The blocks with only the first `keep` bullets, and a pointer to `more` after them when any were dropped. */
function withBullets(blocks: readonly Block[], keep: number, more: (shown: number) => string): Block[] {
  const out: Block[] = [];
  let seen = 0;
  let total = 0;
  for (const b of blocks) if (b.type === 'bullet') total++;
  for (const b of blocks) {
    if (b.type !== 'bullet') out.push(b);
    else if (seen++ < keep) out.push(b);
    if (b.type === 'bullet' && seen === total && total > keep) out.push({ type: 'paragraph', lines: [`… ${total - keep} more: see ${more(keep)}`] });
  }
  return out;
}

/** Every text of the blocks cut to `max` characters (at most 10 lines per paragraph, 3 suggestions). */
function clipped(blocks: readonly Block[], max: number): Block[] {
  const clip = (s: string) => ellipsis(s, max);
  return blocks.map((b): Block => {
    switch (b.type) {
      case 'heading':
        return b.title ? { ...b, title: clip(b.title) } : b;
      case 'paragraph':
        return { ...b, lines: b.lines.slice(0, 10).map(clip) };
      case 'bullet':
        return { ...b, text: clip(b.text) };
      case 'suggestions':
        return { ...b, commands: b.commands.slice(0, 3).map(clip) };
      default:
        return { ...b, text: clip(b.text) };
    }
  });
}

/** The blocks cut to the size limit: whole bullets dropped from the end with a pointer, else texts clipped. */
function shortened(blocks: Block[], more: (shown: number) => string, build: (b: readonly Block[]) => NoticeContent): NoticeContent {
  const bullets = blocks.filter((b) => b.type === 'bullet').length;
  if (bullets > 0) {
    let lo = 0;
    let hi = bullets - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fitsBudget(build(withBullets(blocks, mid, more)))) lo = mid;
      else hi = mid - 1;
    }
    blocks = withBullets(blocks, lo, more);
    const cut = build(blocks);
    if (fitsBudget(cut)) return cut;
  }
  for (let max = 4000; ; max = Math.floor(max / 2)) {
    const c = build(clipped(blocks, max));
    if (fitsBudget(c) || max < 8) return c;
  }
}
