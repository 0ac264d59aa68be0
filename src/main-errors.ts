import { ConfigError } from './config.js';
import { KnowledgeError } from './knowledge/load.js';
import { scrub } from './log.js';

/** Exit code for a configuration or knowledge error found at start-up. */
export const EXIT_CONFIG = 2;

/** Prints a start-up error in plain words (no stack for expected ones) and sets a non-zero exit code. */
export function fatal(err: unknown): void {
  if (err instanceof ConfigError || err instanceof KnowledgeError || (err as { startup?: boolean })?.startup) {
    process.stderr.write(`kernel-status-bot: ${scrub((err as Error).message)}\n`);
    process.exitCode = EXIT_CONFIG;
  } else {
    process.stderr.write(`kernel-status-bot: unexpected error: ${scrub(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exitCode = 1;
  }
}
