import { defineCommand, usageOf } from '../src/core/command.js';
import { splitCommand } from '../src/core/parse.js';
import { replies } from '../src/core/reply.js';

export default defineCommand({
  name: 'help',
  description: 'What this bot can do, or how to use one command',
  options: [{ name: 'command', description: 'A command name, e.g. status', type: 'string', maxLength: 40 }],
  examples: ['help', 'help status'],
  run({ commands, prefix }, args) {
    const given = args.command;
    const wanted = given === undefined ? undefined : (splitCommand(given, [prefix, '/', '!'])?.name ?? given.toLowerCase());
    if (wanted) {
      const c = commands.find((x) => x.name === wanted || x.aliases?.includes(wanted));
      if (!c) return replies.noMatch(`There is no command "${wanted}".`, { suggestions: ['help'] });
      const opts = (c.subcommands?.flatMap((s) => s.options ?? []) ?? c.options ?? []).map(
        (o) => `  ${o.name}${o.required ? '' : ' (optional)'}: ${o.description}`,
      );
      return {
        kind: 'info',
        title: `${prefix}${c.name}`,
        summary: c.description,
        lines: [`Usage: ${usageOf(c, prefix)}`, ...opts, ...c.examples.map((e) => `Example: ${prefix}${e}`)],
      };
    }
    return {
      kind: 'info',
      title: 'Commands',
      summary: 'I answer questions about a talk on the state of Linux kernel development. Mention me with a question, or use a command.',
      lines: [
        ...commands.map((c) => `${usageOf(c, prefix)}: ${c.description}`),
        `Options also go as name:value, e.g. ${prefix}status topic:fs; quote values with spaces.`,
      ],
    };
  },
});
