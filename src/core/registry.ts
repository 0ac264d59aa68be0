import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CommandDef } from './command.js';

/** The `commands/` directory next to `src/` (in the source tree and in `dist/`). */
export const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'commands');

/**
 * Loads every command module in `commands/` (one file per command, default
 * export a CommandDef), so a new command is one new file. Sorted by name;
 * names and aliases must be unique.
 */
export async function loadCommands(dir = COMMANDS_DIR): Promise<CommandDef[]> {
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .sort();
  const defs: CommandDef[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default?: CommandDef };
    const def = mod.default;
    if (!def || typeof def.run !== 'function') throw new Error(`commands/${f} has no default export made with defineCommand`);
    for (const n of [def.name, ...(def.aliases ?? [])]) {
      if (seen.has(n)) throw new Error(`commands/${f}: the name "${n}" is taken by another command`);
      seen.add(n);
    }
    defs.push(def);
  }
  return defs;
}
