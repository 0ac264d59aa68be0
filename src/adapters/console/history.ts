import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Lines of console history kept across sessions. */
export const HISTORY_LINES = 1000;

/**
 * The saved history, newest first (readline's order); empty when there is none yet.
 * Throws on a file that exists but cannot be read.
 */
export function loadHistory(file: string, max = HISTORY_LINES): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-max)
    .reverse();
}

/** Saves history (newest first, as readline keeps it) oldest line first, at most `max` lines; replaced atomically. */
export function saveHistory(file: string, history: readonly string[], max = HISTORY_LINES): void {
  const lines = history
    .slice(0, max)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !l.includes('\n'))
    .reverse();
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
