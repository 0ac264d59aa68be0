/**
 * A problem the operator must fix before the bot can run (configuration, knowledge files, credentials, the
 * environment: a port in use, an unusable DATA_DIR, a corrupt database). The process prints its message as one
 * line, without a stack, and exits with EXIT_STARTUP. The message names the variable or file and the cause.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Exit code for a StartupError, at start-up or when a platform refuses the bot for good mid-run. */
export const EXIT_STARTUP = 2;
