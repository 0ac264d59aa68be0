import { scrub } from './log.js';
import { EXIT_STARTUP, StartupError } from './startup-error.js';

/** Prints a start-up error in plain words (one line, no stack, for a StartupError) and sets a non-zero exit code. */
export function fatal(err: unknown): void {
  if (err instanceof StartupError) {
    process.stderr.write(`kernel-status-bot: ${scrub(err.message)}\n`);
    process.exitCode = EXIT_STARTUP;
  } else {
    process.stderr.write(`kernel-status-bot: unexpected error: ${scrub(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exitCode = 1;
  }
}
