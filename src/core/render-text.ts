import type { Verdict } from '../knowledge/model.js';
import type { Block } from './layout.js';
import { layout } from './layout.js';
import type { Reply } from './reply.js';
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

/** One block as text lines. */
function blockLines(b: Block, prefix: string, style: TextStyle): string[] {
  switch (b.type) {
    case 'heading':
      return [[b.title && style.title(b.title), b.verdict ? style.verdict(`[${VERDICT_LABEL[b.verdict]}]`, b.verdict) : undefined].filter(Boolean).join(' ')];
    case 'paragraph': {
      const lines = b.source === undefined ? [...b.lines] : [`${b.lines[0] ?? ''} ${style.cite(`(${b.source})`)}`, ...b.lines.slice(1)];
      return b.lead ? [`${b.lead} ${lines[0] ?? ''}`, ...lines.slice(1)] : lines;
    }
    case 'bullet':
      if (b.label) return [`• ${style.title(b.label.title)} ${style.verdict(`[${VERDICT_LABEL[b.label.verdict]}]`, b.label.verdict)}: ${b.text}`];
      return [
        `${b.depth === 1 ? '   – ' : '• '}${b.lead ? `${b.lead}: ` : ''}${b.source === undefined ? b.text : `“${b.text}” ${style.cite(`(${b.source})`)}`}`,
      ];
    case 'suggestions':
      return [`Did you mean: ${b.commands.map((s) => `${prefix}${s}`).join(', ')}?`];
    case 'footer':
      return [`— ${b.text}`];
  }
}

/** Text lines of a layout, in display order (the console and the Matrix body). */
export function textOfBlocks(blocks: readonly Block[], prefix = '/', style: TextStyle = PLAIN): string[] {
  const out: string[] = [];
  for (const b of blocks) out.push(...blockLines(b, prefix, style));
  return out;
}

/** The reply as text for a terminal, plain unless a style is given; `prefix` is the one the user typed. */
export function renderText(reply: Reply, prefix = '/', style: TextStyle = PLAIN): string {
  return textOfBlocks(layout(reply), prefix, style).join('\n');
}
