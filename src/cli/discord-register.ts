import { config as loadDotenv } from 'dotenv';
import { createApp } from '../app.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { fatal } from '../main-errors.js';
import { StartupError } from '../startup-error.js';

/** `npm run discord:register`: syncs the slash commands (global, and DISCORD_GUILD_ID if set), then exits. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig();
  if (!config.DISCORD_TOKEN) throw new StartupError('DISCORD_TOKEN is not set: it is needed to register slash commands');
  const logger = createLogger(config.LOG_LEVEL);
  // Only the Discord adapter: no store, no Matrix.
  const app = await createApp({ ...config, MATRIX_ACCESS_TOKEN: undefined, MATRIX_HOMESERVER_URL: undefined }, logger, { digests: false });
  const discord = app.adapters[0]!;
  await discord.start();
  await discord.stop();
}

main().catch(fatal);
