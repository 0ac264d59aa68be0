import type { Reply } from '../../core/reply.js';
import { VERDICT_LABEL, moreOf } from '../../core/reply.js';
import { citationLine, textLines } from '../../core/render-text.js';
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

function html(reply: Reply, prefix: string): string {
  const out: string[] = [];
  const head = [reply.title ? `<strong>${escapeHtml(reply.title)}</strong>` : '', reply.verdict ? `[${escapeHtml(VERDICT_LABEL[reply.verdict])}]` : ''].filter(Boolean).join(' ');
  if (head) out.push(`<p>${head}</p>`);
  if (reply.summary) out.push(`<p>${escapeHtml(reply.summary)}</p>`);
  if (reply.verdictQuote) out.push(`<p><em>Verdict rests on:</em> “${escapeHtml(reply.verdictQuote.text)}” (p. ${reply.verdictQuote.page})</p>`);
  if (reply.rows?.length) {
    out.push(`<ul>${reply.rows.map((r) => `<li><strong>${escapeHtml(r.title)}</strong> [${escapeHtml(VERDICT_LABEL[r.verdict])}]: ${escapeHtml(r.summary)}</li>`).join('')}</ul>`);
  }
  if (reply.points?.length) {
    const withTopic = reply.kind === 'answer';
    let items = '';
    for (const p of reply.points) items += `<li>${escapeHtml(citationLine(p, withTopic))}</li>`;
    out.push(`<ul>${items}</ul>`);
  }
  if (reply.lines?.length) out.push(`<p>${reply.lines.map(escapeHtml).join('<br>')}</p>`);
  if (reply.suggestions?.length) out.push(`<p>Did you mean: ${reply.suggestions.map((s) => `<code>${escapeHtml(prefix + s)}</code>`).join(', ')}?</p>`);
  if (reply.footer) out.push(`<p><em>${escapeHtml(reply.footer)}</em></p>`);
  return out.join('');
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

/** The whole reply as notice content, whatever its size. */
function notice(r: Reply, prefix: string, inReplyTo: string | undefined): NoticeContent {
  const c: NoticeContent = {
    msgtype: 'm.notice',
    body: textLines(r, prefix).join('\n'),
    format: 'org.matrix.custom.html',
    formatted_body: html(r, prefix),
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
  const whole = notice(reply, prefix, inReplyTo);
  if (surelyFits(whole) || fitsBudget(whole)) return whole;
  return shortened(reply, prefix, inReplyTo);
}

function fitsBudget(c: NoticeContent): boolean {
  return Buffer.byteLength(JSON.stringify(c)) <= CONTENT_BUDGET;
}

/** The reply cut to the size limit: whole points (or rows) dropped from the end with a pointer, else texts clipped. */
function shortened(reply: Reply, prefix: string, inReplyTo: string | undefined): NoticeContent {
  const build = (r: Reply): NoticeContent => notice(r, prefix, inReplyTo);
  const fits = fitsBudget;

  const key = reply.points?.length ? 'points' : reply.rows?.length ? 'rows' : undefined;
  if (key) {
    const items = reply[key] as unknown[];
    const more = (k: number) => `… ${items.length - k} more: see ${prefix}${moreOf(reply, k)}`;
    const withItems = (k: number): Reply => ({ ...reply, [key]: items.slice(0, k), lines: [...(reply.lines ?? []), more(k)] });
    let lo = 0;
    let hi = items.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(build(withItems(mid)))) lo = mid;
      else hi = mid - 1;
    }
    const cut = build(withItems(lo));
    if (fits(cut)) return cut;
    reply = withItems(lo);
  }
  for (let max = 4000; ; max = Math.floor(max / 2)) {
    const clip = (s?: string) => (s && s.length > max ? `${s.slice(0, max - 1)}…` : s);
    const clipped = build({
      ...reply,
      title: clip(reply.title),
      summary: clip(reply.summary),
      footer: clip(reply.footer),
      lines: reply.lines?.slice(0, 10).map((l) => clip(l)!),
      suggestions: reply.suggestions?.slice(0, 3).map((l) => clip(l)!),
      points: reply.points?.map((p) => ({ ...p, text: clip(p.text)! })),
      rows: reply.rows?.map((r) => ({ ...r, summary: clip(r.summary)! })),
    });
    if (fits(clipped) || max < 8) return clipped;
  }
}
