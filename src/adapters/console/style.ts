import { createColors } from 'picocolors';
import type { Verdict } from '../../knowledge/model.js';
import { PLAIN, type TextStyle } from '../../core/render-text.js';

/**
 * Whether the interactive console colours its output. `NO_COLOR` (non-empty) turns colour off and wins;
 * `FORCE_COLOR` turns it on (`0` or `false`: off) even when stdout is redirected; otherwise colour
 * when stdout is a terminal that is not `TERM=dumb`. Only the interactive console asks: piped input
 * is answered in plain text whatever the environment says.
 */
export function wantsColor(output: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.toLowerCase());
  return Boolean(output.isTTY) && env.TERM !== 'dumb';
}

/** The console's colours: verdicts by meaning, topic titles bold, page citations dim. */
export function colorStyle(enabled: boolean): TextStyle {
  if (!enabled) return PLAIN;
  const c = createColors(true);
  const verdict: Record<Verdict, (s: string) => string> = { good: c.green, mixed: c.yellow, concern: c.red, unrated: c.gray };
  return { title: c.bold, verdict: (label, v) => verdict[v](label), cite: c.dim };
}
