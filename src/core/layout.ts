import type { Verdict } from '../knowledge/model.js';
import type { Citation, Reply } from './reply.js';

/** A title line: the reply's title and verdict, either may be missing. */
export interface HeadingBlock {
  readonly type: 'heading';
  readonly title?: string;
  readonly verdict?: Verdict;
}

/** Lines of prose; `lead` is a label before the first line (emphasised where the platform can), `source` a page after it. */
export interface ParagraphBlock {
  readonly type: 'paragraph';
  readonly lines: readonly string[];
  readonly lead?: string;
  readonly source?: string;
}

/**
 * A list item: a cited point (`text` is the quote, `source` where it stands: "p. 9" or "Realtime, p. 9"),
 * or a board row (`label` and its verdict before the text). Depth 1 hangs under the bullet before it.
 */
export interface BulletBlock {
  readonly type: 'bullet';
  readonly depth: 0 | 1;
  readonly text: string;
  readonly source?: string;
  readonly label?: { readonly title: string; readonly verdict: Verdict };
  /** What a cited point answers when a question has two subjects ("ext4"), shown before the quote. */
  readonly lead?: string;
}

/** "Did you mean": command lines without their prefix, which each renderer adds. */
export interface SuggestionsBlock {
  readonly type: 'suggestions';
  readonly commands: readonly string[];
}

export interface FooterBlock {
  readonly type: 'footer';
  readonly text: string;
}

export type Block = HeadingBlock | ParagraphBlock | BulletBlock | SuggestionsBlock | FooterBlock;

/** "p. 10" style page reference. */
export function pageRef(page: number): string {
  return `p. ${page}`;
}

/** Where a cited point stands: its page, and its topic when `withTopic`. */
export function sourceOf(c: Citation, withTopic: boolean): string {
  return withTopic ? `${c.topicTitle}, ${pageRef(c.page)}` : pageRef(c.page);
}

/** A paragraph's lines with its source after the first one (the lead is left to the renderer). */
export function sourcedLines(b: ParagraphBlock): readonly string[] {
  return b.source === undefined ? b.lines : [`${b.lines[0] ?? ''} (${b.source})`, ...b.lines.slice(1)];
}

/** Points name their topic in an answer, or when they come from more than one topic. */
function showsTopic(reply: Reply): boolean {
  if (reply.kind === 'answer') return true;
  const first = reply.points?.[0]?.topicId;
  return reply.points?.some((p) => p.topicId !== first) ?? false;
}

function pointBullets(reply: Reply): BulletBlock[] {
  const points = reply.points ?? [];
  const withTopic = showsTopic(reply);
  return points.map((p, i) => ({
    type: 'bullet',
    depth: p.parent && !withTopic && i > 0 ? 1 : 0,
    text: p.text,
    source: sourceOf(p, withTopic),
    ...(p.label ? { lead: p.label } : {}),
  }));
}

/**
 * The reply as blocks in display order, decided once for every renderer: heading, summary, the verdict's
 * quote, free lines, board rows, points (a sub-bullet one level deeper, unless points name their topic),
 * suggestions, footer. Renderers format the blocks and enforce their platform's limits.
 */
export function layout(reply: Reply): Block[] {
  const out: Block[] = [];
  if (reply.title || reply.verdict)
    out.push({ type: 'heading', ...(reply.title ? { title: reply.title } : {}), ...(reply.verdict ? { verdict: reply.verdict } : {}) });
  if (reply.summary) out.push({ type: 'paragraph', lines: [reply.summary] });
  if (reply.verdictQuote)
    out.push({ type: 'paragraph', lead: 'Verdict rests on:', lines: [`“${reply.verdictQuote.text}”`], source: pageRef(reply.verdictQuote.page) });
  if (reply.lines?.length) out.push({ type: 'paragraph', lines: reply.lines });
  for (const r of reply.rows ?? []) out.push({ type: 'bullet', depth: 0, text: r.summary, label: { title: r.title, verdict: r.verdict } });
  out.push(...pointBullets(reply));
  if (reply.suggestions?.length) out.push({ type: 'suggestions', commands: reply.suggestions });
  if (reply.footer) out.push({ type: 'footer', text: reply.footer });
  return out;
}
