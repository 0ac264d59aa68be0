/**
 * A bare discord.js bot used as the baseline for benchmarks and as the fake server's smoke-test client:
 * replies "pong" to every chat-input interaction, to every message that mentions it and to every DM
 * (messages from bots, including itself, are ignored).
 */
import { once } from 'node:events';
import { ChannelType, Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import { destroyClient } from './client.js';

/**
 * Log a pong bot in against `apiUrl` (e.g. `fake.apiUrl`) and resolve once it is fully ready (guilds cached).
 * Rejects like `client.login()` does (e.g. DiscordjsError code `TokenInvalid`). Call `stop()` (a reconnect-safe
 * `client.destroy()`, see destroyClient) before closing the server.
 */
export async function startPongBot(apiUrl: string, token: string): Promise<{ client: Client; stop(): Promise<void> }> {
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: apiUrl },
  });

  client.on(Events.InteractionCreate, async (interaction) => {
    if (!interaction.isChatInputCommand()) return;
    await interaction.reply({ content: 'pong' }).catch((e: unknown) => client.emit(Events.Error, e as Error));
  });

  client.on(Events.MessageCreate, async (message) => {
    if (message.author.bot || !client.user) return;
    const isDm = message.channel.type === ChannelType.DM;
    if (!isDm && !message.mentions.users.has(client.user.id)) return;
    await message.reply('pong').catch((e: unknown) => client.emit(Events.Error, e as Error));
  });

  // Swallow errors emitted above so an unhandled 'error' event cannot crash the process.
  client.on(Events.Error, () => undefined);

  const ready = once(client, Events.ClientReady);
  ready.catch(() => undefined);
  try {
    await client.login(token);
    await ready;
  } catch (e) {
    await client.destroy();
    throw e;
  }
  return { client, stop: () => destroyClient(client) };
}
