import { config as loadDotenv } from 'dotenv';
import { runConsole } from './adapters/console.js';
import { chatAdapters } from './adapters/index.js';
import { createApp } from './app.js';
import { hasChatAdapter, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { fatal } from './main-errors.js';

/** Entry point: the chat adapters the environment configures, or the console adapter when none is. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const app = await createApp(config, logger);
  if (!hasChatAdapter(config)) {
    await runConsole(app.bot);
    return;
  }
  const adapters = await chatAdapters(app);
  const started: typeof adapters = [];
  try {
    for (const a of adapters) {
      await a.start();
      started.push(a);
    }
  } catch (err) {
    await Promise.allSettled(started.map((a) => a.stop()));
    throw err;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return; // npm and the terminal both forward the signal: the repeat must not cut the drain short
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    timer.unref();
    await Promise.allSettled(adapters.map((a) => a.stop()));
    logger.info('stopped');
    process.exitCode = 0;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch(fatal);
