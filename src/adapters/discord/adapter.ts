import {
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  InteractionResponseType,
  Options,
  Partials,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  Routes,
  Status,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
} from 'discord.js';
import type { Logger } from 'pino';
import type { Bot } from '../../core/bot.js';
import type { Args, IncomingMessage } from '../../core/command.js';
import { optionsOf } from '../../core/command.js';
import { optionChoices } from '../../core/complete.js';
import type { Reply } from '../../core/reply.js';
import { replies } from '../../core/reply.js';
import { DeliveryError, type FindResult } from '../../digest/port.js';
import { StartupError } from '../../startup-error.js';
import { ReplyQueue, type SendBudget } from '../reply-queue.js';
import { InFlight, type AdapterStatus, type ChatAdapter } from '../types.js';
import { slashCommands, upToDate } from './commands.js';
import type { MissedMentions } from './missed.js';
import { messageBody, renderChoices } from './render.js';
import { withRetries } from './retry.js';

export interface DiscordOptions {
  token: string;
  /** REST base URL without version (default Discord's own). */
  apiUrl?: string;
  guildId?: string;
  /** BOT_ADMINS: Discord user ids that may run bot-wide commands (/reload), besides the application's owner and team. */
  admins?: readonly string[];
  bot: Bot;
  logger: Logger;
  /** Answers mentions sent while no session held the gateway (restart, invalidated session, failover), each once (./missed.ts). */
  missed?: MissedMentions;
}

const PREFIXES = ['/', '!'];

/** The text a digest post ends its footer with, so the post can be found again. */
function markerOf(key: string): string {
  return `ref ${key}`;
}

function withMarker(footer: string | undefined, key: string): string {
  return footer ? `${footer} · ${markerOf(key)}` : markerOf(key);
}

/** A failed REST call as a {@link DeliveryError}: 403/404 permanent, 429 after its wait, anything else transient. */
function classifyDiscordError(err: unknown, where: string): DeliveryError {
  const message = `${where}: ${(err as Error).message}`;
  if (err instanceof DiscordAPIError && (err.status === 403 || err.status === 404)) return new DeliveryError(message, 'permanent');
  const retryAfter = (err as { retryAfter?: number }).retryAfter;
  if (typeof retryAfter === 'number') return new DeliveryError(message, 'retry-after', retryAfter);
  return new DeliveryError(message, 'transient');
}

/**
 * Discord's send budget for replies: its global limit of 50 requests per second; slash commands and
 * autocomplete in flight 16 at a time in a lane of their own, message replies 8 (a channel takes 5 per 5 s).
 */
const REPLY_BUDGET: SendBudget = { perSecond: 50, concurrency: { interaction: 16, message: 8 } };
/** At shutdown, how long sends already in flight may finish (the queue's waiting replies are dropped at once). */
const SEND_GRACE_MS = 4000;
/** Discord takes an interaction's answer for 3 s after the interaction; resends stop a little before that. */
const INTERACTION_WINDOW_MS = 2800;

/** Gateway close codes after which Discord will not take the bot back until the operator fixes something. */
const FATAL_CLOSE: Record<number, string> = {
  4004: 'DISCORD_TOKEN was rejected by the Discord gateway (close code 4004, authentication failed): copy the bot token again from the Developer Portal (Bot → Reset Token).',
  4013: 'Discord refused the gateway intents the bot asks for (close code 4013, invalid intents).',
  4014: 'Discord refused the gateway intents (close code 4014, disallowed intents): the intents are not enabled for this application in the Developer Portal (Bot → Privileged Gateway Intents).',
};

/**
 * Discord on discord.js: slash commands (with autocomplete and `hide`),
 * mentions and DMs answered as questions, digests posted to channels.
 * Every message body is built by `messageBody` (render.ts), which disables mentions.
 */
export class DiscordAdapter implements ChatAdapter {
  readonly platform = 'discord' as const;
  readonly client: Client;
  private readonly inFlight = new InFlight();
  private readonly replies: ReplyQueue;
  private accepting = false;
  private connected = false;
  private lastReason = 'not started';
  private readonly log: Logger;
  onFatal?: (err: StartupError) => void;
  private ownerFetchedAt = 0;
  /** Set when the gateway closed with a fatal code (see FATAL_CLOSE). */
  private fatalError?: StartupError;
  private fatalWaiter?: (err: StartupError) => void;

  constructor(private readonly opts: DiscordOptions) {
    this.log = opts.logger.child({ adapter: 'discord' });
    this.replies = new ReplyQueue(REPLY_BUDGET, this.log);
    this.client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
      partials: [Partials.Channel],
      // discord.js caches by default every message it sees (200 per channel) and every author it meets,
      // for as long as it runs: in a community of thousands that grows without bound. The bot never reads
      // messages back; it needs only the author's member (roles, for the Manage Channels check of text
      // commands), which is added to the cache as each message arrives.
      makeCache: Options.cacheWithLimits({
        ...Options.DefaultMakeCacheSettings,
        MessageManager: 0,
        ReactionManager: 0,
        ReactionUserManager: 0,
        PresenceManager: 0,
        ThreadMemberManager: 0,
        VoiceStateManager: 0,
        GuildMemberManager: { maxSize: 1000, keepOverLimit: (m) => m.id === m.client.user.id },
        UserManager: { maxSize: 1000, keepOverLimit: (u) => u.id === u.client.user.id },
      }),
      allowedMentions: { parse: [], repliedUser: false },
      // As many shards as /gateway/bot recommends, all in this process (DMs arrive on shard 0).
      shards: 'auto',
      ...(opts.apiUrl ? { rest: { api: opts.apiUrl } } : {}),
    });
    // REST works without the gateway: a replica that does not hold the gateway still posts digests.
    this.client.rest.setToken(opts.token);
    // Listeners live on the Client, so they survive gateway reconnects and resumes.
    this.client.on(Events.InteractionCreate, (i) => void this.inFlight.track(this.onInteraction(i)));
    this.client.on(Events.MessageCreate, (m) => void this.inFlight.track(this.onMessage(m)));
    this.client.on(Events.ShardReady, (shard) => {
      // A session after start() is a new one (an invalidated session, not a resume): Discord does not deliver
      // what was sent while there was none, so mentions and DMs are read back (./missed.ts).
      if (this.accepting) {
        this.log.warn({ shard }, 'gateway session started anew: reading back mentions sent while it was down');
        if (this.opts.missed) void this.inFlight.track(this.opts.missed.catchUp(this.client, (m) => this.onMessage(m)));
      }
      this.setConnected(true, 'ready');
    });
    this.client.on(Events.ShardResume, (shard, replayed) => {
      this.log.info({ shard, replayed }, 'gateway resumed');
      this.setConnected(true, 'resumed');
    });
    this.client.on(Events.ShardDisconnect, (e) => {
      this.setConnected(false, `gateway closed (${e.code})`);
      if (FATAL_CLOSE[e.code]) this.fatal(new StartupError(FATAL_CLOSE[e.code]));
    });
    this.client.on(Events.ShardReconnecting, (shard) => {
      this.log.info({ shard }, 'gateway reconnecting');
      this.setConnected(false, 'gateway reconnecting');
    });
    this.client.on(Events.ShardError, (err) => this.log.warn({ err }, 'gateway error'));
    this.client.on(Events.Error, (err) => this.log.error({ err }, 'discord.js error'));
  }

  async start(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    // A fatal gateway close during login (4004 at IDENTIFY) ends the wait for READY instead of hanging.
    const refused = new Promise<never>((_resolve, reject) => (this.fatalWaiter = reject));
    refused.catch(() => undefined);
    try {
      await Promise.race([this.client.login(this.opts.token).then(() => ready), refused]);
    } catch (err) {
      await this.client.destroy();
      if ((err as { code?: string }).code === 'TokenInvalid') {
        throw new StartupError(
          'DISCORD_TOKEN was rejected by Discord (401 Unauthorized): copy the bot token again from the Developer Portal (Bot → Reset Token).',
        );
      }
      throw err;
    } finally {
      this.fatalWaiter = undefined;
    }
    this.accepting = true;
    try {
      await this.syncCommands();
    } catch (err) {
      // A half-started adapter must not keep the client (and so the process) alive.
      await this.stop();
      throw err;
    }
    this.log.info({ user: this.client.user?.tag }, 'connected to Discord');
    if (this.opts.missed) void this.inFlight.track(this.opts.missed.catchUp(this.client, (m) => this.onMessage(m)));
  }

  /** Registers the slash commands globally (and to DISCORD_GUILD_ID) when they differ from what is registered. */
  async syncCommands(): Promise<{ changed: string[] }> {
    const appId = this.client.application?.id ?? this.client.user!.id;
    const wanted = slashCommands(this.opts.bot.commands);
    const scopes: { route: `/${string}`; guildId?: string }[] = [{ route: Routes.applicationCommands(appId) }];
    if (this.opts.guildId) scopes.push({ route: Routes.applicationGuildCommands(appId, this.opts.guildId), guildId: this.opts.guildId });
    const changed: string[] = [];
    for (const { route, guildId } of scopes) {
      try {
        const registered = await this.client.application!.commands.fetch(guildId ? { guildId } : {});
        if (upToDate(registered, wanted)) continue;
        await this.client.rest.put(route, { body: wanted });
      } catch (err) {
        if (guildId && err instanceof DiscordAPIError && (err.status === 403 || err.status === 404)) {
          throw new StartupError(
            `DISCORD_GUILD_ID: the bot cannot register its commands in that server (${err.message}): invite it there with the applications.commands scope, or unset DISCORD_GUILD_ID.`,
          );
        }
        throw err;
      }
      changed.push(route);
    }
    this.log.info({ changed: changed.length, commands: wanted.length }, changed.length ? 'slash commands registered' : 'slash commands up to date');
    return { changed };
  }

  status(): AdapterStatus {
    return this.connected ? { connected: true } : { connected: false, reason: this.lastReason };
  }

  replyStats(): { pending: number; shed: number } {
    return { pending: this.replies.pending, shed: this.replies.shed };
  }

  async stop(): Promise<void> {
    this.accepting = false;
    await this.opts.missed?.stop();
    await this.inFlight.drain();
    const { dropped, unfinished } = await this.replies.close(SEND_GRACE_MS);
    this.log.info({ dropped, unfinished }, `shutdown: ${dropped} queued replies dropped, ${unfinished} still sending abandoned`);
    // @discordjs/ws ignores destroy() while a shard waits to reconnect and may then reconnect a destroyed
    // client: give a reconnecting shard a moment to settle first (bounded by the 10 s shutdown limit).
    const deadline = Date.now() + 3000;
    while (!this.fatalError && this.client.ws.shards.some((s) => s.status !== Status.Ready) && this.client.ws.shards.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    await this.client.destroy();
    // destroy() forgets the token; REST (digest posts) must keep working when only the gateway role moves away.
    this.client.rest.setToken(this.opts.token);
    this.setConnected(false, 'stopped');
  }

  /**
   * Discord drops a repeated nonce (`enforce_nonce`) only for a few minutes (undocumented how many): two
   * minutes is taken as the window, on the safe side. Past it the scheduler looks for the post instead.
   */
  readonly dedupWindowMs = 2 * 60_000;

  /** One attempt (discord.js itself waits out rate limits within its REST queue); the post carries its key in the footer. */
  async post(channelId: string, reply: Reply, key: string): Promise<void> {
    try {
      // Discord drops a repeated nonce (enforce_nonce) within a few minutes: a re-sent slot shows once.
      await this.client.rest.post(Routes.channelMessages(channelId), {
        body: messageBody({ ...reply, footer: withMarker(reply.footer, key) }, { nonce: key }),
      });
    } catch (err) {
      throw classifyDiscordError(err, `channel ${channelId}`);
    }
  }

  /** Looks for a post with the key's marker among the channel's last 100 messages. */
  async findPost(channelId: string, key: string, since: number): Promise<FindResult> {
    let messages: { author?: { id?: string }; timestamp?: string; embeds?: { footer?: { text?: string } }[] }[];
    try {
      messages = (await this.client.rest.get(Routes.channelMessages(channelId), { query: new URLSearchParams({ limit: '100' }) })) as typeof messages;
    } catch {
      return 'unknown';
    }
    const me = this.client.user?.id;
    const marker = markerOf(key);
    if (messages.some((m) => m.author?.id === me && m.embeds?.some((e) => e.footer?.text?.endsWith(marker)))) return 'found';
    const oldest = messages.at(-1)?.timestamp;
    const reachesBack = messages.length < 100 || (oldest !== undefined && Date.parse(oldest) <= since);
    return reachesBack ? 'absent' : 'unknown';
  }

  /** BOT_ADMINS, the application's owner, or a member of the team that owns it (fetched once, then every 10 minutes). */
  private async isBotAdmin(userId: string): Promise<boolean> {
    if (this.opts.admins?.includes(userId)) return true;
    const app = this.client.application;
    if (!app) return false;
    if (!app.owner || Date.now() - this.ownerFetchedAt > 10 * 60_000) {
      await app.fetch();
      this.ownerFetchedAt = Date.now();
    }
    const owner = app.owner;
    if (!owner) return false;
    return 'members' in owner ? owner.members.has(userId) : owner.id === userId;
  }

  /** A fatal close: fails a start() in progress, or tells the runtime (once) to drain and exit. */
  private fatal(err: StartupError): void {
    if (this.fatalError) return;
    this.fatalError = err;
    this.lastReason = err.message;
    this.log.error({ reason: err.message }, 'Discord refused the bot');
    if (this.fatalWaiter) this.fatalWaiter(err);
    else this.onFatal?.(err);
  }

  private setConnected(connected: boolean, reason: string): void {
    this.connected = connected;
    this.lastReason = reason;
  }

  private async onInteraction(i: Interaction): Promise<void> {
    if (!this.accepting) return;
    try {
      if (i.isAutocomplete()) await this.onAutocomplete(i);
      else if (i.isChatInputCommand()) await this.onCommand(i);
    } catch (err) {
      this.log.error({ err, interaction: i.id }, 'interaction failed');
    }
  }

  private async onAutocomplete(i: AutocompleteInteraction): Promise<void> {
    const def = this.opts.bot.command(i.commandName);
    const focused = i.options.getFocused(true);
    const opt = def && optionsOf(def, i.options.getSubcommand(false) ?? undefined).find((o) => o.name === focused.name);
    if (!this.opts.bot.allowComplete({ platform: 'discord', userId: i.user.id })) return; // over the user's autocomplete budget: left unanswered
    const choices = opt ? optionChoices(this.opts.bot, opt, String(focused.value)) : [];
    this.replies.push('interaction', () => i.respond(renderChoices(choices)));
  }

  private async onCommand(i: ChatInputCommandInteraction): Promise<void> {
    const def = this.opts.bot.command(i.commandName);
    if (!def) {
      await this.sendToInteraction(i, replies.usage('That command is not available any more.'), true);
      return;
    }
    const subcommand = def.subcommands ? (i.options.getSubcommand(false) ?? undefined) : undefined;
    const given = optionsOf(def, subcommand).flatMap((o) => {
      const v = i.options.get(o.name)?.value;
      return v === undefined || v === null ? [] : [[o.name, v] as const];
    });
    const args: Args = { subcommand, ...Object.fromEntries(given) };
    const msg: IncomingMessage = {
      platform: 'discord',
      text: `/${i.commandName}`,
      userId: i.user.id,
      channelId: i.channelId,
      addressed: true,
      direct: !i.inGuild(),
      // Asked only by commands that need a manager.
      canManage: i.inGuild() ? () => Promise.resolve(i.memberPermissions?.has(PermissionFlagsBits.ManageChannels) ?? false) : true,
      isAdmin: () => this.isBotAdmin(i.user.id),
    };
    const reply = (await this.opts.bot.invoke(def, args, msg, '/')) ?? {
      // An interaction must be answered; a rate-limited user sees this only themselves.
      kind: 'rate-limited' as const,
      summary: 'Please slow down.',
      private: true,
    };
    const hide = i.options.getBoolean('hide') ?? false;
    this.replies.push('interaction', () => this.sendToInteraction(i, reply, hide));
  }

  private async onMessage(m: Message): Promise<void> {
    if (!this.accepting) return; // not seen: a catch-up reads it back
    this.opts.missed?.seen(m.channelId, m.id);
    if (m.author.bot || m.system) return;
    const me = this.client.user!.id;
    const isDM = m.guildId === null;
    const mentioned = m.mentions.users.has(me);
    if (!isDM && !mentioned) return;
    // The answer is worked out when the queue gets to the message, so a mention shed in a flood costs nothing.
    this.replies.push('message', () => this.answerMessage(m, isDM));
  }

  private async answerMessage(m: Message, isDM: boolean): Promise<void> {
    if (this.opts.missed && !(await this.opts.missed.claim(m.id))) return; // answered already, here or by another replica
    const me = this.client.user!.id;
    const text = m.content.replace(new RegExp(`<@!?${me}>`, 'g'), ' ').trim();
    // Asked only by commands that need a manager (a flood of questions never computes permissions).
    const canManage = async () => {
      if (isDM) return true;
      if (!m.member || !m.channel.isTextBased() || m.channel.isDMBased()) return false;
      return m.member.permissionsIn(m.channel).has(PermissionFlagsBits.ManageChannels);
    };
    const isAdmin = () => this.isBotAdmin(m.author.id);
    const reply = await this.opts.bot.handle(
      { platform: 'discord', text, userId: m.author.id, channelId: m.channelId, addressed: true, direct: isDM, canManage, isAdmin },
      PREFIXES,
    );
    if (reply) await this.sendToMessage(m, reply);
  }

  /**
   * The one way an interaction is answered: the callback is posted as `interaction.reply()` posts it (same
   * route, body and query), without discord.js's message-payload resolution: our body is already the API's JSON.
   * Sent again after a transient failure while Discord still takes it (3 s from the interaction); a resend
   * that finds it acknowledged (40060) means an earlier attempt got through.
   */
  private async sendToInteraction(i: ChatInputCommandInteraction, reply: Reply, hide: boolean): Promise<void> {
    const body = { type: InteractionResponseType.ChannelMessageWithSource, data: messageBody(reply, { ephemeral: hide || reply.private === true }) };
    let sent = false;
    const attempt = () =>
      this.client.rest
        .post(Routes.interactionCallback(i.id, i.token), { body, auth: false, query: new URLSearchParams({ with_response: 'false' }) })
        .catch((err: unknown) => {
          if (!(sent && err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged)) throw err;
        })
        .finally(() => (sent = true));
    await withRetries(attempt, { retries: 3, minTimeoutMs: 200, until: i.createdTimestamp + INTERACTION_WINDOW_MS });
  }

  /**
   * The one way a message is answered: as a reply to it, sent again after a transient failure. Its nonce
   * (with `enforce_nonce`) makes a resend return the message an earlier attempt created instead of a second one.
   */
  private async sendToMessage(m: Message, reply: Reply): Promise<void> {
    const body = messageBody(reply, { replyTo: m.id, nonce: `r${m.id}` });
    await withRetries(() => this.client.rest.post(Routes.channelMessages(m.channelId), { body }), { retries: 4, minTimeoutMs: 500 });
  }
}
