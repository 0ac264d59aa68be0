import type { Verdict } from '../knowledge/model.js';
import type { Citation, Reply } from './reply.js';
import { VERDICT_LABEL } from './reply.js';

/** How a text renderer marks up parts of a line (a terminal's colours); {@link PLAIN} adds nothing. */
export interface TextStyle {
  /** A topic title. */
  title(text: string): string;
  /** A verdict label such as `[concern]`. */
  verdict(label: string, verdict: Verdict): string;
  /** A page citation such as `(p. 9)`. */
  cite(text: string): string;
}

const same = (text: string) => text;
export const PLAIN: TextStyle = { title: same, verdict: same, cite: same };

/** "p. 10" style page reference. */
export function pageRef(page: number): string {
  return `p. ${page}`;
}

/** One cited point as a single line, with topic and page. */
export function citationLine(c: Citation, withTopic: boolean, style: TextStyle = PLAIN): string {
  const where = withTopic ? `${c.topicTitle}, ${pageRef(c.page)}` : pageRef(c.page);
  return `${c.label ? `${c.label}: ` : ''}“${c.text}” ${style.cite(`(${where})`)}`;
}

/** Plain-text lines of a reply, in display order (shared by the console and Matrix bodies). */
export function textLines(reply: Reply, prefix = '/', style: TextStyle = PLAIN): string[] {
  const out: string[] = [];
  const head = [reply.title && style.title(reply.title), reply.verdict ? style.verdict(`[${VERDICT_LABEL[reply.verdict]}]`, reply.verdict) : undefined].filter(Boolean).join(' ');
  if (head) out.push(head);
  if (reply.summary) out.push(reply.summary);
  if (reply.verdictQuote) out.push(`Verdict rests on: “${reply.verdictQuote.text}” ${style.cite(`(${pageRef(reply.verdictQuote.page)})`)}`);
  if (reply.rows?.length) {
    for (const r of reply.rows) out.push(`• ${style.title(r.title)} ${style.verdict(`[${VERDICT_LABEL[r.verdict]}]`, r.verdict)}: ${r.summary}`);
  }
  if (reply.points?.length) {
    const first = reply.points[0]!.topicId;
    let multiTopic = reply.kind === 'answer';
    for (const p of reply.points) if (p.topicId !== first) multiTopic = true;
    for (const p of reply.points) out.push(`${p.parent && reply.kind === 'status' ? '   – ' : '• '}${citationLine(p, multiTopic, style)}`);
  }
  if (reply.lines?.length) out.push(...reply.lines);
  if (reply.suggestions?.length) out.push(`Did you mean: ${reply.suggestions.map((s) => `${prefix}${s}`).join(', ')}?`);
  if (reply.footer) out.push(`— ${reply.footer}`);
  return out;
}

/** The reply as text for a terminal: plain unless a style is given. */
export function renderText(reply: Reply, prefix = '/', style: TextStyle = PLAIN): string {
  return textLines(reply, prefix, style).join('\n');
}
