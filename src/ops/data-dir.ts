import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { StartupError } from '../startup-error.js';

/** `ENOTDIR: …` → `ENOTDIR`, for one-line messages. */
function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
}

/**
 * Makes sure DATA_DIR is a writable directory, creating it when missing. Anything else (a file, a path through
 * a file, a read-only mount, no permission) is a StartupError that names DATA_DIR and the cause.
 */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = codeOf(err);
    if (code === 'EEXIST') throw new StartupError(`DATA_DIR (${dir}) is a file, not a directory: point DATA_DIR at a directory.`);
    if (code === 'ENOTDIR') throw new StartupError(`DATA_DIR (${dir}) cannot be created: part of the path is a file (ENOTDIR).`);
    throw new StartupError(`DATA_DIR (${dir}) cannot be created (${code}).`);
  }
  if (!statSync(dir).isDirectory()) throw new StartupError(`DATA_DIR (${dir}) is a file, not a directory: point DATA_DIR at a directory.`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new StartupError(`DATA_DIR (${dir}) is not writable (${codeOf(err)}): the bot keeps its digest database and Matrix sync state there.`);
  }
}

/** Opens a file-backed resource in DATA_DIR; a failure (corrupt or foreign file, no space, no permission) becomes a StartupError naming the file. */
export function openInDataDir<T>(file: string, what: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (err instanceof StartupError) throw err;
    const code = (err as { code?: string }).code;
    const hint = code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' ? ': move it away (the bot then starts with no subscriptions) or restore a backup' : '';
    throw new StartupError(`${file} (in DATA_DIR): cannot open the ${what} (${code ? `${code}: ` : ''}${(err as Error).message})${hint}.`);
  }
}
