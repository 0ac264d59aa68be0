import type { Bot } from './bot.js';
import type { CommandDef, OptionDef } from './command.js';
import { optionsOf } from './command.js';

/** One completion choice of an option value (Discord autocomplete shows `name` and sends `value`). */
export interface Choice {
  name: string;
  value: string;
}

/**
 * Values for an option being typed: topics by the fuzzy topic ranking (best first, typos included),
 * declared choices and suggestions by prefix. Serves Discord's autocomplete and the console's Tab.
 */
export function optionChoices(bot: Bot, opt: OptionDef, input: string, limit = 25): Choice[] {
  if (opt.autocomplete === 'topics') return bot.complete(input, limit);
  const k = input.trim().toLowerCase();
  return (opt.choices ?? opt.suggestions ?? [])
    .filter((v) => v.toLowerCase().startsWith(k))
    .slice(0, limit)
    .map((v) => ({ name: v, value: v }));
}

/** What completes a partly typed line: `completions` each replace `word`, the end of the line. */
export interface LineCompletion {
  completions: string[];
  word: string;
}

const NONE: LineCompletion = { completions: [], word: '' };
const NAMED = /^([a-z][\w-]*):([\s\S]*)$/i;

/**
 * Completion of a text command line up to the cursor, derived from the command definitions:
 * command names and aliases, subcommands, option names (`topic:`), and option values (topics and
 * their aliases, choices, suggestions). A word that starts no candidate completes to the closest one,
 * so typos complete too (`/status filesy` → `filesystems`). Free text (a question) completes nothing.
 */
export function completeLine(bot: Bot, line: string, prefixes: readonly string[] = ['/', '!']): LineCompletion {
  const lead = line.trimStart();
  if (lead === '') return { completions: bot.commands.map((c) => `${prefixes[0] ?? '/'}${c.name}`), word: '' };
  const prefix = prefixes.find((p) => lead.startsWith(p));
  if (prefix === undefined) return NONE;
  const body = lead.slice(prefix.length);
  const space = body.search(/\s/);
  if (space < 0) return { completions: closing(bot.completeCommand(body).map((n) => `${prefix}${n}`)), word: lead };
  const def = bot.command(body.slice(0, space));
  const rest = body.slice(space);
  if (!def || (rest.match(/["“”']/g)?.length ?? 0) % 2 === 1) return NONE; // unknown command, or inside a quoted value
  const words = rest.trimStart().split(/\s+/);
  const partial = words.pop() ?? '';
  return completeArgs(bot, def, words, partial);
}

/** Completion of the word after a command name: `prior` are the words typed before it. */
function completeArgs(bot: Bot, def: CommandDef, prior: string[], partial: string): LineCompletion {
  let subcommand: string | undefined;
  if (def.subcommands) {
    if (prior.length === 0) {
      const k = partial.toLowerCase();
      return { completions: closing(def.subcommands.map((s) => s.name).filter((n) => n.startsWith(k))), word: partial };
    }
    subcommand = def.subcommands.find((s) => s.name === prior[0]!.toLowerCase())?.name;
    if (!subcommand) return NONE;
    prior = prior.slice(1);
  }
  const options = optionsOf(def, subcommand);
  const byName = new Map(options.map((o) => [o.name.toLowerCase(), o]));
  const named = NAMED.exec(partial);
  const namedOpt = named && byName.get(named[1]!.toLowerCase());
  if (named && namedOpt) return completeValue(bot, namedOpt, named[2]!);

  const given = new Set<OptionDef>();
  let positional = 0;
  for (const w of prior) {
    const opt = byName.get(NAMED.exec(w)?.[1]?.toLowerCase() ?? '');
    if (opt) given.add(opt);
    else positional++;
  }
  const free = options.filter((o) => !given.has(o));
  const k = partial.toLowerCase();
  const names = free.filter((o) => o.name.toLowerCase().startsWith(k)).map((o) => `${o.name}:`);
  const target = free[positional];
  const values = target ? completeValue(bot, target, partial) : NONE;
  if (k === '') return { completions: [...names, ...values.completions], word: partial };
  if (names.length > 0 && !values.completions.some((v) => v.toLowerCase().startsWith(k))) return { completions: names, word: partial };
  return values.word === partial ? { completions: [...names, ...values.completions], word: partial } : values;
}

/**
 * Completion of an option value. A topic list (`fs,mm`) completes its last item. Topics offer their id
 * or the one-word alias the user is typing; when nothing starts with the input, the best fuzzy match alone.
 */
function completeValue(bot: Bot, opt: OptionDef, input: string): LineCompletion {
  if (opt.autocomplete !== 'topics') return { completions: closing(optionChoices(bot, opt, input).map((c) => c.value)), word: input };
  const word = input.slice(input.lastIndexOf(',') + 1);
  const k = word.toLowerCase();
  const topics = bot.knowledge.current.knowledge.topicById;
  const ranked = bot.complete(word);
  const starting = ranked.flatMap((c) => {
    const t = topics.get(c.value);
    const hit = [c.value, ...(t?.aliases ?? [])].find((key) => !/\s/.test(key) && key.toLowerCase().startsWith(k));
    return hit === undefined ? [] : [hit];
  });
  if (starting.length > 0) return { completions: closing(starting), word };
  return { completions: ranked.slice(0, 1).map((c) => `${c.value} `), word };
}

/** A single candidate gets a trailing space (the word is done), unless it ends an option name. */
function closing(list: string[]): string[] {
  return list.length === 1 && !list[0]!.endsWith(':') ? [`${list[0]} `] : list;
}
