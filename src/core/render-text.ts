import type { Citation, Reply } from './reply.js';
import { VERDICT_LABEL } from './reply.js';

/** "p. 10" style page reference. */
export function pageRef(page: number): string {
  return `p. ${page}`;
}

/** One cited point as a single line, with topic and page. */
export function citationLine(c: Citation, withTopic: boolean): string {
  const where = withTopic ? `${c.topicTitle}, ${pageRef(c.page)}` : pageRef(c.page);
  return `${c.label ? `${c.label}: ` : ''}“${c.text}” (${where})`;
}

/** Plain-text lines of a reply, in display order (shared by the console and Matrix bodies). */
export function textLines(reply: Reply, prefix = '/'): string[] {
  const out: string[] = [];
  const head = [reply.title, reply.verdict ? `[${VERDICT_LABEL[reply.verdict]}]` : undefined].filter(Boolean).join(' ');
  if (head) out.push(head);
  if (reply.summary) out.push(reply.summary);
  if (reply.verdictQuote) out.push(`Verdict rests on: “${reply.verdictQuote.text}” (${pageRef(reply.verdictQuote.page)})`);
  if (reply.rows?.length) {
    for (const r of reply.rows) out.push(`• ${r.title} [${VERDICT_LABEL[r.verdict]}]: ${r.summary}`);
  }
  if (reply.points?.length) {
    const first = reply.points[0]!.topicId;
    let multiTopic = reply.kind === 'answer';
    for (const p of reply.points) if (p.topicId !== first) multiTopic = true;
    for (const p of reply.points) out.push(`${p.parent && reply.kind === 'status' ? '   – ' : '• '}${citationLine(p, multiTopic)}`);
  }
  if (reply.lines?.length) out.push(...reply.lines);
  if (reply.suggestions?.length) out.push(`Did you mean: ${reply.suggestions.map((s) => `${prefix}${s}`).join(', ')}?`);
  if (reply.footer) out.push(`— ${reply.footer}`);
  return out;
}

/** The reply as plain text for a terminal. */
export function renderText(reply: Reply, prefix = '/'): string {
  return textLines(reply, prefix).join('\n');
}
