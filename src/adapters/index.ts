import type { App } from '../app.js';
import { DiscordAdapter } from './discord/adapter.js';
import type { ChatAdapter } from './types.js';

/** The chat adapters the configuration enables (Discord and Matrix can run together). */
export async function chatAdapters(app: App): Promise<ChatAdapter[]> {
  const { config, bot, logger } = app;
  const adapters: ChatAdapter[] = [];
  if (config.DISCORD_TOKEN) {
    adapters.push(new DiscordAdapter({ token: config.DISCORD_TOKEN, apiUrl: config.DISCORD_API_URL, guildId: config.DISCORD_GUILD_ID, bot, logger }));
  }
  return adapters;
}
