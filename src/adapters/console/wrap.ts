import wrapAnsi from 'wrap-ansi';

/** Leading marks of list lines; their continuation lines are indented to the text after the mark. */
const HANGING = /^(?:• |\s+– )/;
/** "p. 9" (and "Filesystems, p. 9") stays on one line: its spaces become no-break spaces while wrapping. */
const PAGE = /(, )?\bp\. (?=\d)/g;
const NBSP = '\u00A0';

/**
 * Wraps text at `width` columns (colour codes take no room): words stay whole (a word longer than a
 * line is cut), a bullet's continuation lines are indented under its text, and a page citation is
 * never split. A line that fits is returned as it is.
 */
export function wrapText(text: string, width: number): string {
  if (!(width >= 20)) return text;
  return text
    .split('\n')
    .map((line) => wrapLine(line, width))
    .join('\n');
}

function wrapLine(line: string, width: number): string {
  const indent = HANGING.exec(line)?.[0] ?? '';
  const pad = ' '.repeat(indent.length);
  const body = line.slice(indent.length).replace(PAGE, (_, comma?: string) => `${comma ? `,${NBSP}` : ''}p.${NBSP}`);
  const wrapped = wrapAnsi(body, width - indent.length, { hard: true, trim: true });
  return indent + wrapped.split('\n').join(`\n${pad}`).replaceAll(NBSP, ' ');
}
