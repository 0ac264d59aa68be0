import { config as loadDotenv } from 'dotenv';
import { consolePoster, runConsole } from './adapters/console.js';
import { chatAdapters } from './adapters/index.js';
import type { ChatAdapter } from './adapters/types.js';
import { createApp } from './app.js';
import { hasChatAdapter, loadConfig } from './config.js';
import { DigestScheduler, type Poster } from './digest/scheduler.js';
import { createLogger } from './log.js';
import { fatal } from './main-errors.js';

/** Entry point: the chat adapters the environment configures, or the console adapter when none is. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const app = await createApp(config, logger);
  const chat = hasChatAdapter(config);
  const adapters: ChatAdapter[] = chat ? await chatAdapters(app) : [];
  const posters = new Map<string, Poster>(chat ? adapters.map((a) => [a.platform, a]) : [['console', consolePoster()]]);
  const scheduler = new DigestScheduler({ store: app.digestStore, knowledge: app.knowledge, posters, logger, catchUpGraceMs: config.DIGEST_CATCHUP_GRACE_SECONDS * 1000 });
  app.services.digests!.onChange = () => scheduler.wake();

  if (!chat) {
    scheduler.start();
    await runConsole(app.bot);
    await scheduler.stop();
    app.digestStore.close();
    return;
  }
  const started: ChatAdapter[] = [];
  try {
    for (const a of adapters) {
      await a.start();
      started.push(a);
    }
  } catch (err) {
    await Promise.allSettled(started.map((a) => a.stop()));
    app.digestStore.close();
    throw err;
  }
  scheduler.start();
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
    await scheduler.stop();
    await Promise.allSettled(adapters.map((a) => a.stop()));
    app.digestStore.close();
    logger.info('stopped');
    process.exitCode = 0;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch(fatal);
