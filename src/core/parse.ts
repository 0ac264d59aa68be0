import type { ArgValue, Args, CommandDef, OptionDef } from './command.js';
import { optionsOf } from './command.js';
import { ellipsis } from './ellipsis.js';

/** A message split into the prefix the user typed, the command name and the text after it. */
export interface CommandLine {
  prefix: string;
  name: string;
  rest: string;
}

/** `/cmd args` or `!cmd args` (any of `prefixes`, the longest that matches); anything else is free text (undefined). */
export function splitCommand(text: string, prefixes: readonly string[]): CommandLine | undefined {
  const t = text.trimStart();
  let prefix: string | undefined;
  for (const p of prefixes) if (t.startsWith(p) && (prefix === undefined || p.length > prefix.length)) prefix = p;
  if (prefix === undefined) return undefined;
  const m = /^(\S*)\s*([\s\S]*)$/.exec(t.slice(prefix.length))!;
  return { prefix, name: m[1]!.toLowerCase(), rest: m[2]!.trim() };
}

const QUOTES = /["“”']/;
const WHITESPACE = /\s+/;

/**
 * Splits an argument string into words: whitespace separates, double or single
 * quotes group (`schedule:"0 9 * * 1"` is one word); an unclosed quote runs to the end.
 */
export function tokenize(s: string): string[] {
  // Without quotes (the common case) the words are just the runs between whitespace.
  if (!QUOTES.test(s)) return s.split(WHITESPACE).filter((w) => w.length > 0);
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let inWord = false;
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === '“' || ch === '”' || ch === "'") {
      quote = ch === '“' ? '”' : ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export type ParseResult = { ok: true; args: Args } | { ok: false; error: string };

/**
 * Binds the text after a command name to its declared options: `name:value`
 * pairs the way Discord shows a slash command, or positionally in declared
 * order, the last string option taking the rest of the line.
 */
export function parseArgs(def: CommandDef, rest: string): ParseResult {
  let words = tokenize(rest);
  let subcommand: string | undefined;
  if (def.subcommands) {
    const first = words[0]?.toLowerCase();
    const sub = def.subcommands.find((s) => s.name === first);
    if (!sub) {
      const names = def.subcommands.map((s) => s.name).join(', ');
      return { ok: false, error: first ? `unknown subcommand "${first}" (one of: ${names})` : `a subcommand is needed (one of: ${names})` };
    }
    subcommand = sub.name;
    words = words.slice(1);
  }
  const options = optionsOf(def, subcommand);
  const byName = new Map(options.map((o) => [o.name.toLowerCase(), o]));
  const values = new Map<OptionDef, string>();
  const positional: string[] = [];
  for (const w of words) {
    const m = /^([a-z][\w-]*):([\s\S]*)$/i.exec(w);
    const opt = m ? byName.get(m[1]!.toLowerCase()) : undefined;
    if (opt && m) {
      if (values.has(opt)) return { ok: false, error: `option "${opt.name}" is given twice` };
      values.set(opt, m[2]!);
    } else positional.push(w);
  }
  const free = options.filter((o) => !values.has(o));
  for (let i = 0; i < free.length && positional.length > 0; i++) {
    const opt = free[i]!;
    const isLast = i === free.length - 1 || free.slice(i + 1).every((o) => o.type !== 'string');
    const take = opt.type === 'string' && isLast && !opt.choices ? positional.length : 1;
    values.set(opt, positional.splice(0, take).join(' '));
  }
  if (positional.length > 0) return { ok: false, error: `unexpected text "${ellipsis(positional.join(' '), 40)}"` };

  const args: Record<string, ArgValue | undefined> = { subcommand };
  for (const opt of options) {
    const raw = values.get(opt);
    if (raw === undefined || raw === '') {
      if (opt.required) return { ok: false, error: `option "${opt.name}" is required` };
      continue;
    }
    const v = coerce(opt, raw);
    if (typeof v === 'object') return { ok: false, error: v.error };
    args[opt.name] = v;
  }
  return { ok: true, args };
}

/** Checks and converts one raw option value. */
export function coerce(opt: OptionDef, raw: string): ArgValue | { error: string } {
  const max = opt.maxLength ?? 500;
  if (raw.length > max) return { error: `option "${opt.name}" is too long (at most ${max} characters)` };
  if (opt.type === 'integer') {
    if (!/^-?\d{1,15}$/.test(raw)) return { error: `option "${opt.name}" must be a whole number` };
    return Number(raw);
  }
  if (opt.type === 'boolean') {
    const b = raw.toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(b)) return true;
    if (['false', 'no', 'off', '0'].includes(b)) return false;
    return { error: `option "${opt.name}" must be true or false` };
  }
  if (opt.choices) {
    const c = opt.choices.find((x) => x.toLowerCase() === raw.toLowerCase());
    if (!c) return { error: `option "${opt.name}" must be one of: ${opt.choices.join(', ')}` };
    return c;
  }
  return raw;
}
