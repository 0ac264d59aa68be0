import { config as loadDotenv } from 'dotenv';
import { runConsole } from './adapters/console.js';
import { createApp } from './app.js';
import { hasChatAdapter, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { fatal } from './main-errors.js';

/** Entry point: the console adapter when no chat platform is configured. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const app = await createApp(config, logger);
  if (!hasChatAdapter(config)) {
    await runConsole(app.bot);
    return;
  }
  throw Object.assign(new Error('chat adapters are not built yet'), { startup: true });
}

main().catch(fatal);
