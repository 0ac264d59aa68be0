import { config as loadDotenv } from 'dotenv';
import { hasChatAdapter, loadConfig } from './config.js';
import { createLogger, scrub, terminalLogLevel } from './log.js';
import { EXIT_STARTUP } from './startup-error.js';
import { fatal } from './main-errors.js';
import { startBot } from './runtime.js';

const SHUTDOWN_LIMIT_MS = 10_000;

/** Entry point: configuration, logging, the bot, a graceful shutdown on SIGTERM/SIGINT, a knowledge reload on SIGHUP. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig();
  // A person at the console's prompt: quiet, one-line logs. Piped input and chat adapters log as configured.
  const atPrompt = !hasChatAdapter(config) && Boolean(process.stdin.isTTY);
  const logger = atPrompt ? createLogger(terminalLogLevel(config.LOG_LEVEL), 2, { oneLine: true }) : createLogger(config.LOG_LEVEL);
  // Signals are handled from the start: one that arrives while the bot starts waits for the start, then drains.
  const starting = startBot(config, logger);

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string, code: number, lastWords?: string) => {
    // A signal often arrives twice (the terminal signals the process group, npm forwards it again): the repeat joins the drain.
    if (stopping) return stopping;
    logger.info({ reason }, 'shutting down');
    const limit = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    limit.unref();
    stopping = starting
      .then((running) => running.stop())
      .then(
        () => {
          logger.info('stopped');
          logger.flush?.();
          if (lastWords) process.stderr.write(`kernel-status-bot: ${scrub(lastWords)}\n`);
          process.exit(code);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    return stopping;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  // A broken state is not left running: log with context, drain what can be drained, exit non-zero.
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled promise rejection');
    void shutdown('unhandledRejection', 1);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    void shutdown('uncaughtException', 1);
  });

  // Daemon convention: SIGHUP reloads the configuration, here the knowledge (validated; a broken change keeps the old one).
  process.on('SIGHUP', () => {
    void starting.then(
      (running) => {
        const r = running.app.knowledge.reload();
        if (r.ok) logger.info({ version: r.version, topics: r.topics, changed: r.changed, signal: 'SIGHUP' }, 'knowledge reloaded');
        else logger.error({ reason: r.reason, signal: 'SIGHUP' }, 'knowledge reload refused; keeping the loaded version');
      },
      () => undefined,
    );
  });

  const running = await starting;
  // A platform that refuses the bot mid-run (revoked token, intents not enabled) is an operator's problem like a
  // bad configuration: drain, then exit 2 with the cause on one line.
  void running.fatal.then((err) => {
    logger.fatal({ reason: err.message }, 'a chat platform refused the bot; stopping');
    void shutdown('fatal', EXIT_STARTUP, err.message);
  });
  await running.done;
  await shutdown('end of input', 0);
}

main().catch(fatal);
