import type { Block } from './layout.js';
import { bulletLine, layout } from './layout.js';
import type { Reply } from './reply.js';
import { VERDICT_LABEL } from './reply.js';

/** One block as plain-text lines. */
function blockLines(b: Block, prefix: string): string[] {
  switch (b.type) {
    case 'heading':
      return [[b.title, b.verdict ? `[${VERDICT_LABEL[b.verdict]}]` : undefined].filter(Boolean).join(' ')];
    case 'paragraph':
      return b.lead ? [`${b.lead} ${b.lines[0] ?? ''}`, ...b.lines.slice(1)] : [...b.lines];
    case 'bullet':
      if (b.label) return [`• ${b.label.title} [${VERDICT_LABEL[b.label.verdict]}]: ${b.text}`];
      return [`${b.depth === 1 ? '   – ' : '• '}${bulletLine(b)}`];
    case 'suggestions':
      return [`Did you mean: ${b.commands.map((s) => `${prefix}${s}`).join(', ')}?`];
    case 'footer':
      return [`— ${b.text}`];
  }
}

/** Plain-text lines of a layout, in display order (the console and the Matrix body). */
export function textOfBlocks(blocks: readonly Block[], prefix = '/'): string[] {
  const out: string[] = [];
  for (const b of blocks) out.push(...blockLines(b, prefix));
  return out;
}

/** The reply as plain text for a terminal; `prefix` is the one the user typed. */
export function renderText(reply: Reply, prefix = '/'): string {
  return textOfBlocks(layout(reply), prefix).join('\n');
}
