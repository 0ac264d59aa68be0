import type { App } from '../app.js';
import type { ChatAdapter } from './types.js';

/**
 * The chat adapters the configuration enables (Discord and Matrix can run
 * together). SDKs are imported only when needed, so the console starts fast.
 */
export async function chatAdapters(app: App): Promise<ChatAdapter[]> {
  const { config, bot, logger } = app;
  const adapters: ChatAdapter[] = [];
  if (config.DISCORD_TOKEN) {
    const { DiscordAdapter } = await import('./discord/adapter.js');
    adapters.push(new DiscordAdapter({ token: config.DISCORD_TOKEN, apiUrl: config.DISCORD_API_URL, guildId: config.DISCORD_GUILD_ID, bot, logger }));
  }
  if (config.MATRIX_HOMESERVER_URL && config.MATRIX_ACCESS_TOKEN) {
    const { MatrixAdapter } = await import('./matrix/adapter.js');
    adapters.push(
      new MatrixAdapter({
        homeserverUrl: config.MATRIX_HOMESERVER_URL,
        accessToken: config.MATRIX_ACCESS_TOKEN,
        dataDir: config.DATA_DIR,
        bot,
        logger,
        prefix: config.MATRIX_COMMAND_PREFIX,
        inviteAllow: config.MATRIX_INVITE_ALLOW,
        graceMs: config.MATRIX_GRACE_SECONDS * 1000,
        ...(app.digestStore.shared ? { sharedState: app.digestStore } : {}),
      }),
    );
  }
  return adapters;
}
