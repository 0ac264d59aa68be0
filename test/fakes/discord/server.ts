/**
 * A small fake Discord (API v10) for end-to-end tests: REST under `/api/v10` and the JSON gateway
 * WebSocket on the same loopback port, so the REAL discord.js `Client` can log in and talk to it:
 *
 *   const fake = await startFakeDiscord();
 *   const client = new Client({ intents, partials: [Partials.Channel], rest: { api: fake.apiUrl } });
 *   await client.login(fake.token);
 *   ...
 *   await destroyClient(client); // (./client.ts) reconnect-safe client.destroy(); always before fake.close()
 *   await fake.close();
 *
 * World: one guild with two text channels (`general`, `other`), the bot member, an owner and a default user.
 * Behaviour follows Discord's documented protocols (see comments at each handler); deliberate
 * simplifications are noted inline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  EVERYONE_PERMISSIONS,
  Intent,
  MessageFlag,
  dmChannelObject,
  formError,
  guildBaseObject,
  isoNow,
  memberObject,
  randomToken,
  roleObject,
  snowflake,
  textChannelObject,
  userObject,
  type ApiUser,
  type Json,
} from './payloads.js';
import { validateAutocompleteChoices, validateCommand, validateCommandList, validateMessageBody } from './validate.js';

/* ------------------------------------------------------------------------------------------------ */
/* Public API                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

export interface FakeDiscordOptions {
  /** Bot token clients must present (`Authorization: Bot <token>`, IDENTIFY/RESUME). Default: random. */
  token?: string;
  /** Port to listen on (127.0.0.1). 0 = random (default). */
  port?: number;
  /**
   * Discord rejects an interaction's initial callback after 3 s with 404 Unknown interaction (10062).
   * Default 3000; 0 disables the deadline.
   */
  interactionDeadlineMs?: number;
  /**
   * Dispatch MESSAGE_CREATE/UPDATE/DELETE over the gateway for messages the bot itself creates/edits/deletes,
   * as Discord does (non-ephemeral only). Default true.
   */
  echoBotMessages?: boolean;
  /** How long a repeated `nonce` with `enforce_nonce` returns the first message (Discord: "a few minutes"). Default 5 min. */
  nonceWindowMs?: number;
}

/** A file part of a multipart/form-data request. */
export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  size: number;
}

export interface RecordedRequest {
  method: string;
  /** Decoded path without the `/api/v10` prefix, e.g. `/channels/123/messages`, `/webhooks/1/tok/messages/@original`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or for multipart/form-data the parsed `payload_json` part; undefined when there is none. */
  body: any;
  /** Uploaded files (multipart requests only). */
  files?: RecordedFile[];
  /** performance.now() when the request arrived. */
  at: number;
  /** HTTP status the fake answered with. */
  status?: number;
  /** JSON body the fake answered with (undefined for 204). */
  response?: any;
}

export interface FakeDiscord {
  port: number;
  /** `http://127.0.0.1:PORT/api` (no version; discord.js appends `/v10`). */
  apiUrl: string;
  token: string;
  applicationId: string;
  botUser: { id: string; username: string };
  guildId: string;
  /** Two text channels in the guild. */
  channelIds: { general: string; other: string };
  /** Role ids: `everyone` (== guildId) and the bot's managed role. */
  roleIds: { everyone: string; bot: string };
  /** The default author of user messages / interactions, and the guild owner. */
  users: { default: { id: string; username: string }; owner: { id: string; username: string } };
  /** Every HTTP request received, in arrival order. */
  requests: RecordedRequest[];
  /** Gateway payloads received from clients (op + d), in order. */
  gatewayReceived: { op: number; d: any; at: number }[];
  /** Registered global application commands (mutated in place). */
  globalCommands: any[];
  /** Registered guild application commands by guild id. */
  guildCommands: Map<string, any[]>;
  /** Messages the bot created in a channel (REST posts, interaction responses and followups), oldest first, current state. */
  channelMessages(channelId: string): any[];
  /** The DM channel id the fake uses for a user (created on first use). */
  dmChannelId(userId: string): string;
  /** Emit MESSAGE_CREATE from a user; returns the full message payload (see method doc). */
  sendUserMessage(o: SendUserMessageOptions): any;
  /** Emit INTERACTION_CREATE (chat-input command or autocomplete). */
  sendInteraction(o: SendInteractionOptions): { id: string; token: string; callback: Promise<RecordedRequest> };
  /** First recorded request (past or future) matching `pred`; rejects after `timeoutMs` (default 5000). */
  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /**
   * Resolves once the `count`-th (default 1) READY or RESUMED, or a later one, has been processed by the client
   * (it answered the heartbeat request the fake sends right after READY+GUILD_CREATE / RESUMED).
   * Rejects after `timeoutMs` (default 20000).
   */
  waitForReady(count?: number, timeoutMs?: number): Promise<void>;
  /** Number of READY + RESUMED dispatches sent so far (not necessarily processed yet; see waitForReady). */
  readonly readyCount: number;
  /** Abruptly terminate all gateway sockets; with `{ resumable: false }` sessions are invalidated too (forcing a fresh IDENTIFY). */
  dropGateway(opts?: { resumable?: boolean }): void;
  /** Make a team own the application (GET /applications/@me then has `team` with these members); null: the owner user again. */
  setApplicationTeam(memberIds: string[] | null): void;
  /** Close every gateway socket with a close `code` (e.g. 4004 authentication failed, 4014 disallowed intents), as Discord does. */
  closeGateway(code: number, reason?: string): void;
  /** Answer every IDENTIFY from now on with a close `code` (null: accept again), e.g. 4004 for a token revoked after the REST checks. */
  failIdentify(code: number | null): void;
  /** Make the next `times` (default 1) POST /channels/{channelId}/messages fail with `status`. */
  failChannelPosts(channelId: string, status: 403 | 404 | 429 | 500, times?: number): void;
  /** Add a text channel to the guild (CHANNEL_CREATE to connected clients); returns its id. */
  addTextChannel(name: string): string;
  /**
   * Requests matching `pred` are handled as usual (a message is created) but their HTTP response is withheld,
   * as when a connection dies after the server committed: the client never learns the outcome. `null` stops
   * holding; withheld responses are never sent (the tests kill the client).
   */
  holdResponses(pred: ((r: RecordedRequest) => boolean) | null): void;
  /** Requests matching `pred` are handled at once but answered `ms` later (a slow API); `null` stops. */
  slowResponses(pred: ((r: RecordedRequest) => boolean) | null, ms?: number): void;
  /**
   * The next `times` (default 1) requests matching `pred` lose their connection: before they are handled, or
   * with `afterCommit` after (the message is created, the interaction acknowledged) with no answer sent. The
   * client sees the other side close the connection. Recorded with status 0.
   */
  resetConnections(pred: (r: RecordedRequest) => boolean, o?: { times?: number; afterCommit?: boolean }): void;
  /**
   * A flood: `count` messages mentioning the bot, each from a different user, dispatched over the gateway in
   * batches (the event loop turns between batches so frames leave). Resolves when all are dispatched.
   */
  floodMentions(o: { count: number; content?: string; channelId?: string; batch?: number }): Promise<void>;
  /** Responses withheld so far by holdResponses. */
  readonly heldCount: number;
  /** Terminate all sockets and connections and stop listening. */
  close(): Promise<void>;
}

export interface SendUserMessageOptions {
  content: string;
  /** Guild channel id (default: general). Ignored when `dm` is true. */
  channelId?: string;
  /** Send in the author's DM channel with the bot. */
  dm?: boolean;
  /** Add the bot to `mentions` (and `<@botId>` to the content if absent). */
  mentionsBot?: boolean;
  author?: { id?: string; username?: string; bot?: boolean };
  /** Role ids to mention (`<@&id>` is added to the content if absent). */
  mentionRoles?: string[];
  /** Set mention_everyone (`@everyone` is added to the content if absent). */
  mentionEveryone?: boolean;
  /** Member role ids of the author (guild messages). */
  memberRoles?: string[];
}

export interface SendInteractionOptions {
  /** 2 = APPLICATION_COMMAND (chat input, default), 4 = APPLICATION_COMMAND_AUTOCOMPLETE. */
  type?: 2 | 4;
  commandName: string;
  /** Options as Discord sends them: `[{name,type,value,focused?}]` or `[{name,type:1,options:[...]}]`. */
  options?: any[];
  /** Guild channel id (default: general). Ignored when `dm` is true. */
  channelId?: string;
  dm?: boolean;
  /** member.permissions (guild only). Default: the @everyone permissions (no ManageChannels / Administrator). */
  memberPermissions?: string;
  user?: { id?: string; username?: string };
}

/**
 * Start the fake Discord on 127.0.0.1 (REST + gateway on one port).
 * Always destroy the client (preferably with `destroyClient`) before `close()`, otherwise discord.js keeps
 * trying to reconnect and the test process never exits.
 */
export async function startFakeDiscord(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const fake = new FakeDiscordServer(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}

/* ------------------------------------------------------------------------------------------------ */
/* Implementation                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
type Params = Record<string, string>;
type Handler = (req: RecordedRequest, params: Params) => Reply;
interface Route {
  method: string;
  segments: string[];
  /** Requires `Authorization: Bot <token>` (false for token-in-URL routes: interactions and webhooks). */
  auth: boolean;
  handler: Handler;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  socket: WebSocket | null;
  /** Dispatches kept for RESUME replay (bounded). */
  buffer: { seq: number; frame: string }[];
}

interface StoredMessage {
  channelId: string;
  message: Json;
  fromBot: boolean;
  ephemeral: boolean;
}

interface InteractionState {
  id: string;
  token: string;
  type: 2 | 4;
  channelId: string;
  guildId: string | null;
  user: ApiUser;
  commandName: string;
  createdAt: number;
  acked: boolean;
  originalMessageId: string | null;
  messageIds: Set<string>;
  payload: Json;
}

interface Waiter {
  pred: (r: RecordedRequest) => boolean;
  resolve: (r: RecordedRequest) => void;
  timer: NodeJS.Timeout;
}

const GATEWAY_OP = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;
const HEARTBEAT_INTERVAL = 41250;
/** Reasons Discord gives with its close codes. */
const CLOSE_REASONS: Record<number, string> = { 4004: 'Authentication failed.', 4013: 'Invalid intent(s).', 4014: 'Disallowed intent(s).' };
const REPLAY_BUFFER = 1000;
const NONCE_WINDOW_MS = 5 * 60 * 1000;
const ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024;

const err = (status: number, message: string, code: number): Reply => ({ status, body: { message, code } });
const ok = (body: unknown, status = 200): Reply => ({ status, body });
const noContent = (): Reply => ({ status: 204 });
const E = {
  unauthorized: () => err(401, '401: Unauthorized', 0),
  notFound: () => err(404, '404: Not Found', 0),
  methodNotAllowed: () => err(405, '405: Method Not Allowed', 0),
  unknownChannel: () => err(404, 'Unknown Channel', 10003),
  unknownMessage: () => err(404, 'Unknown Message', 10008),
  unknownUser: () => err(404, 'Unknown User', 10013),
  unknownWebhook: () => err(404, 'Unknown Webhook', 10015),
  unknownCommand: () => err(404, 'Unknown application command', 10063),
  unknownInteraction: () => err(404, 'Unknown interaction', 10062),
  alreadyAcked: () => err(400, 'Interaction has already been acknowledged.', 40060),
  missingAccess: () => err(403, 'Missing Access', 50001),
  cannotEditOthers: () => err(403, 'Cannot edit a message authored by another user', 50005),
  invalidJson: () => err(400, 'The request body contains invalid JSON.', 50109),
};

class FakeDiscordServer implements FakeDiscord {
  port = 0;
  apiUrl = '';
  readonly token: string;
  readonly applicationId: string;
  readonly botUser: { id: string; username: string };
  readonly guildId: string;
  readonly channelIds: { general: string; other: string };
  readonly roleIds: { everyone: string; bot: string };
  readonly users: { default: { id: string; username: string }; owner: { id: string; username: string } };
  readonly requests: RecordedRequest[] = [];
  readonly gatewayReceived: { op: number; d: any; at: number }[] = [];
  readonly globalCommands: any[] = [];
  readonly guildCommands = new Map<string, any[]>();

  private readonly opts: Required<Pick<FakeDiscordOptions, 'interactionDeadlineMs' | 'echoBotMessages' | 'nonceWindowMs'>>;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly routes: Route[] = [];
  private readonly userById = new Map<string, ApiUser>();
  private readonly channels = new Map<string, Json>();
  private readonly dmByUser = new Map<string, string>();
  private readonly roles: Json[];
  private readonly joinedAt = isoNow();
  private readonly messages = new Map<string, StoredMessage>();
  private readonly nonces = new Map<string, { messageId: string; at: number }>();
  private readonly interactions = new Map<string, InteractionState>();
  private readonly failures = new Map<string, { status: 403 | 404 | 429 | 500; remaining: number }>();
  private readonly sessions = new Map<string, Session>();
  private readonly waiters = new Set<Waiter>();
  private readyWaiters: { count: number; resolve: () => void; timer: NodeJS.Timeout }[] = [];
  private holdPred: ((r: RecordedRequest) => boolean) | null = null;
  private slow: { pred: (r: RecordedRequest) => boolean; ms: number } | null = null;
  private readonly resets: { pred: (r: RecordedRequest) => boolean; remaining: number; afterCommit: boolean }[] = [];
  private identifyCloseCode: number | null = null;
  private teamMemberIds: string[] | null = null;
  heldCount = 0;
  /** READY/RESUMED dispatches sent, and the highest of them the client has acknowledged. */
  private readySent = 0;
  private readyAcked = 0;
  private closed = false;

  constructor(opts: FakeDiscordOptions) {
    this.opts = {
      interactionDeadlineMs: opts.interactionDeadlineMs ?? 3000,
      echoBotMessages: opts.echoBotMessages ?? true,
      nonceWindowMs: opts.nonceWindowMs ?? NONCE_WINDOW_MS,
    };
    const botId = snowflake();
    this.applicationId = botId; // modern apps: application id == bot user id
    this.token = opts.token ?? `${Buffer.from(botId).toString('base64url')}.${randomToken(4)}.${randomToken(28)}`;
    this.botUser = { id: botId, username: 'fake-bot' };
    this.userById.set(botId, userObject({ id: botId, username: 'fake-bot', bot: true }));

    const owner = userObject({ id: snowflake(), username: 'owner', globalName: 'Owner' });
    const alice = userObject({ id: snowflake(), username: 'alice', globalName: 'Alice' });
    this.userById.set(owner.id, owner);
    this.userById.set(alice.id, alice);
    this.users = { default: { id: alice.id, username: alice.username }, owner: { id: owner.id, username: owner.username } };

    this.guildId = snowflake();
    const general = textChannelObject({ id: snowflake(), guildId: this.guildId, name: 'general', position: 0 });
    const other = textChannelObject({ id: snowflake(), guildId: this.guildId, name: 'other', position: 1 });
    this.channels.set(general.id, general);
    this.channels.set(other.id, other);
    this.channelIds = { general: general.id, other: other.id };

    const botRoleId = snowflake();
    this.roleIds = { everyone: this.guildId, bot: botRoleId };
    this.roles = [
      roleObject({ id: this.guildId, name: '@everyone', permissions: EVERYONE_PERMISSIONS, position: 0 }),
      roleObject({
        id: botRoleId,
        name: 'fake-bot',
        permissions: EVERYONE_PERMISSIONS,
        position: 1,
        managed: true,
        tags: { bot_id: botId },
      }),
    ];

    this.server = createServer((req, res) => void this.onHttp(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws, req));
    });
    this.defineRoutes();
  }

  /** Listen on 127.0.0.1:port and fill in `port`/`apiUrl`. */
  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.apiUrl = `http://127.0.0.1:${this.port}/api`;
  }

  get readyCount(): number {
    return this.readySent;
  }

  private get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  private get bot(): ApiUser {
    return this.userById.get(this.botUser.id)!;
  }

  /* ---------------------------------------------- test controls ---------------------------------------------- */

  channelMessages(channelId: string): any[] {
    return [...this.messages.values()].filter((m) => m.channelId === channelId && m.fromBot).map((m) => m.message);
  }

  dmChannelId(userId: string): string {
    return this.ensureDmChannel(this.resolveUser({ id: userId })).id;
  }

  /**
   * Emit MESSAGE_CREATE from a (non-bot by default) user and return the full message payload.
   * Like Discord, a session without the MESSAGE_CONTENT intent receives empty content/embeds/attachments for
   * guild messages that do not mention the bot; sessions lacking GUILD_MESSAGES / DIRECT_MESSAGES get nothing.
   */
  sendUserMessage(o: SendUserMessageOptions): any {
    const author = this.resolveUser(o.author);
    const channel = o.dm ? this.ensureDmChannel(author) : this.guildChannel(o.channelId);
    const guildId: string | null = channel.guild_id ?? null;

    let content = o.content;
    const botId = this.botUser.id;
    if (o.mentionsBot && !content.includes(`<@${botId}>`) && !content.includes(`<@!${botId}>`)) {
      content = `<@${botId}> ${content}`;
    }
    for (const roleId of o.mentionRoles ?? []) {
      if (!content.includes(`<@&${roleId}>`)) content = `${content} <@&${roleId}>`;
    }
    if (o.mentionEveryone && !/@(everyone|here)/.test(content)) content = `@everyone ${content}`;

    const message: Json = {
      id: snowflake(),
      channel_id: channel.id,
      author,
      content,
      timestamp: isoNow(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: Boolean(o.mentionEveryone),
      mentions: this.parseUserMentions(content, guildId),
      mention_roles: [...new Set([...(o.mentionRoles ?? []), ...this.parseRoleMentions(content)])],
      attachments: [],
      embeds: [],
      components: [],
      pinned: false,
      type: 0,
      flags: 0,
      nonce: snowflake(),
      channel_type: channel.type,
    };
    if (guildId) {
      message.guild_id = guildId;
      message.member = memberObject({ roles: o.memberRoles ?? [], joinedAt: this.joinedAt });
    }
    this.storeMessage(channel.id, message, false, false);
    this.dispatchMessage('MESSAGE_CREATE', message);
    return message;
  }

  /**
   * Emit INTERACTION_CREATE for a chat-input command (type 2) or autocomplete (type 4).
   * `callback` resolves with the first POST /interactions/{id}/{token}/callback (it is pre-marked as handled,
   * so an un-awaited timeout rejection does not crash the run).
   */
  sendInteraction(o: SendInteractionOptions): { id: string; token: string; callback: Promise<RecordedRequest> } {
    const type = o.type ?? 2;
    const user = this.resolveUser(o.user);
    const channel = o.dm ? this.ensureDmChannel(user) : this.guildChannel(o.channelId);
    const guildId: string | null = channel.guild_id ?? null;
    const id = snowflake();
    const token = `aW50ZXJhY3Rpb246${id}:${randomToken(48)}`;

    const guildCmd = guildId ? this.guildCommands.get(guildId)?.find((c) => c.name === o.commandName && (c.type ?? 1) === 1) : undefined;
    const globalCmd = this.globalCommands.find((c) => c.name === o.commandName && (c.type ?? 1) === 1);
    const cmd = guildCmd ?? globalCmd;
    const data: Json = { id: cmd?.id ?? snowflake(), name: o.commandName, type: 1 };
    if (guildCmd) data.guild_id = guildId;
    if (o.options && o.options.length > 0) {
      data.options = o.options;
      const resolved = this.buildResolved(o.options, guildId);
      if (resolved) data.resolved = resolved;
    }

    const payload: Json = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      data,
      channel_id: channel.id,
      channel: { ...channel },
      app_permissions: EVERYONE_PERMISSIONS,
      locale: 'en-US',
      entitlements: [],
      attachment_size_limit: ATTACHMENT_SIZE_LIMIT,
    };
    if (guildId) {
      payload.guild_id = guildId;
      payload.guild = { id: guildId, locale: 'en-US', features: [] };
      payload.guild_locale = 'en-US';
      payload.member = memberObject({
        user,
        roles: [],
        joinedAt: this.joinedAt,
        permissions: o.memberPermissions ?? EVERYONE_PERMISSIONS,
      });
      payload.authorizing_integration_owners = { '0': guildId };
      payload.context = 0;
    } else {
      payload.user = user;
      payload.authorizing_integration_owners = { '0': '0' };
      payload.context = 1;
    }

    this.interactions.set(id, {
      id,
      token,
      type,
      channelId: channel.id,
      guildId,
      user,
      commandName: o.commandName,
      createdAt: performance.now(),
      acked: false,
      originalMessageId: null,
      messageIds: new Set(),
      payload,
    });
    this.dispatch('INTERACTION_CREATE', () => payload);

    const path = `/interactions/${id}/${token}/callback`;
    const deadline = this.opts.interactionDeadlineMs;
    const callback = this.waitForRequest((r) => r.method === 'POST' && r.path === path, deadline > 0 ? deadline + 2000 : 10_000);
    callback.catch(() => undefined);
    return { id, token, callback };
  }

  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    const found = this.requests.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<RecordedRequest>((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const recent = this.requests
            .slice(-20)
            .map((r) => `  ${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''} -> ${r.status ?? '?'}`)
            .join('\n');
          reject(new Error(`fake-discord: no matching request within ${timeoutMs}ms; recent requests:\n${recent || '  (none)'}`));
        }, timeoutMs),
      };
      waiter.timer.unref();
      this.waiters.add(waiter);
    });
  }

  waitForReady(count = 1, timeoutMs = 20_000): Promise<void> {
    if (this.readyAcked >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry = {
        count,
        resolve,
        timer: setTimeout(() => {
          this.readyWaiters = this.readyWaiters.filter((w) => w !== entry);
          reject(
            new Error(
              `fake-discord: waitForReady(${count}) timed out after ${timeoutMs}ms (READY/RESUMED sent: ${this.readySent}, acknowledged up to #${this.readyAcked})`,
            ),
          );
        }, timeoutMs),
      };
      entry.timer.unref();
      this.readyWaiters.push(entry);
    });
  }

  dropGateway(opts: { resumable?: boolean } = {}): void {
    if (opts.resumable === false) this.sessions.clear();
    for (const ws of this.wss.clients) ws.terminate();
  }

  setApplicationTeam(memberIds: string[] | null): void {
    this.teamMemberIds = memberIds;
  }

  closeGateway(code: number, reason = CLOSE_REASONS[code] ?? 'Closed by the fake.'): void {
    for (const ws of this.wss.clients) ws.close(code, reason);
  }

  failIdentify(code: number | null): void {
    this.identifyCloseCode = code;
  }

  failChannelPosts(channelId: string, status: 403 | 404 | 429 | 500, times = 1): void {
    if (times <= 0) this.failures.delete(channelId);
    else this.failures.set(channelId, { status, remaining: times });
  }

  addTextChannel(name: string): string {
    const channel = textChannelObject({ id: snowflake(), guildId: this.guildId, name, position: this.channels.size });
    this.channels.set(channel.id as string, channel);
    this.dispatch('CHANNEL_CREATE', () => channel);
    return channel.id as string;
  }

  slowResponses(pred: ((r: RecordedRequest) => boolean) | null, ms = 0): void {
    this.slow = pred ? { pred, ms } : null;
  }

  async floodMentions(o: { count: number; content?: string; channelId?: string; batch?: number }): Promise<void> {
    const batch = o.batch ?? 500;
    const channel = this.guildChannel(o.channelId);
    const content = `<@${this.botUser.id}> ${o.content ?? 'what about btrfs?'}`;
    const mentions = this.parseUserMentions(content, this.guildId);
    const member = memberObject({ roles: [], joinedAt: this.joinedAt });
    for (let i = 0; i < o.count; i += batch) {
      const timestamp = isoNow();
      for (let j = i; j < Math.min(o.count, i + batch); j++) {
        // Built directly (not through sendUserMessage) so that tens of thousands leave within seconds.
        const author = userObject({ id: `9${String(j).padStart(17, '0')}`, username: `flood${j}` });
        const message: Json = {
          id: snowflake(),
          channel_id: channel.id,
          guild_id: this.guildId,
          author,
          member,
          content,
          timestamp,
          edited_timestamp: null,
          tts: false,
          mention_everyone: false,
          mentions,
          mention_roles: [],
          attachments: [],
          embeds: [],
          components: [],
          pinned: false,
          type: 0,
          flags: 0,
          channel_type: channel.type,
        };
        this.storeMessage(channel.id as string, message, false, false);
        this.dispatch('MESSAGE_CREATE', () => message);
      }
      await new Promise((r) => setImmediate(r));
    }
  }

  holdResponses(pred: ((r: RecordedRequest) => boolean) | null): void {
    this.holdPred = pred;
  }

  resetConnections(pred: (r: RecordedRequest) => boolean, o: { times?: number; afterCommit?: boolean } = {}): void {
    this.resets.push({ pred, remaining: o.times ?? 1, afterCommit: o.afterCommit ?? false });
  }

  /** Whether a resetConnections rule takes this request (and counts it). */
  private takeReset(rec: RecordedRequest, afterCommit: boolean): boolean {
    const rule = this.resets.find((r) => r.afterCommit === afterCommit && r.remaining > 0 && r.pred(rec));
    if (!rule) return false;
    rule.remaining -= 1;
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    for (const w of this.readyWaiters) clearTimeout(w.timer);
    this.readyWaiters = [];
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /* ---------------------------------------------- gateway ---------------------------------------------- */

  private onGatewayConnection(ws: WebSocket, req: IncomingMessage): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    // discord.js connects with ?v=10&encoding=json (no compress param without zlib-sync).
    if ((query.get('encoding') ?? 'json') !== 'json' || query.has('compress')) {
      ws.close(4002, 'Unsupported encoding/compression in fake');
      return;
    }
    if ((query.get('v') ?? '10') !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    let session: Session | null = null;
    // Index of the READY/RESUMED sent on this socket that the client has not yet acknowledged (see requestHeartbeat).
    let readyPending = 0;
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      let payload: any;
      try {
        if (isBinary) throw new Error('binary');
        payload = JSON.parse(raw.toString());
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.gatewayReceived.push({ op: payload?.op, d: payload?.d, at: performance.now() });
      switch (payload?.op) {
        case GATEWAY_OP.Heartbeat:
          ws.send(JSON.stringify({ op: GATEWAY_OP.HeartbeatAck }));
          if (readyPending) this.markReadyAcked(readyPending);
          readyPending = 0;
          return;
        case GATEWAY_OP.Identify:
          if (session) return void ws.close(4005, 'Already authenticated.');
          session = this.identify(ws, payload.d);
          if (session) readyPending = this.requestHeartbeat(ws);
          return;
        case GATEWAY_OP.Resume:
          if (session) return void ws.close(4005, 'Already authenticated.');
          session = this.resume(ws, payload.d);
          if (session) readyPending = this.requestHeartbeat(ws);
          return;
        case GATEWAY_OP.PresenceUpdate:
        case GATEWAY_OP.VoiceStateUpdate:
        case GATEWAY_OP.RequestGuildMembers:
          if (!session) ws.close(4003, 'Not authenticated.');
          return; // accepted and ignored
        default:
          ws.close(4001, 'Unknown opcode.');
      }
    });
    ws.on('close', (code: number) => {
      if (!session || session.socket !== ws) return;
      session.socket = null;
      // A client closing with 1000/1001 ends its session (it cannot be resumed), as on Discord.
      if (code === 1000 || code === 1001) this.sessions.delete(session.id);
    });
    ws.on('error', () => undefined);
    ws.send(JSON.stringify({ op: GATEWAY_OP.Hello, d: { heartbeat_interval: HEARTBEAT_INTERVAL, _trace: ['fake-discord'] } }));
  }

  /** IDENTIFY (op 2): create a session, send READY then one GUILD_CREATE. */
  private identify(ws: WebSocket, d: any): Session | null {
    if (this.identifyCloseCode !== null) {
      ws.close(this.identifyCloseCode, CLOSE_REASONS[this.identifyCloseCode] ?? 'Refused by the fake.');
      return null;
    }
    if (d?.token !== this.token) {
      ws.close(4004, 'Authentication failed.');
      return null;
    }
    if (typeof d.intents !== 'number') {
      ws.close(4013, 'Invalid intent(s).');
      return null;
    }
    const session: Session = { id: randomToken(16), seq: 0, intents: d.intents, socket: ws, buffer: [] };
    this.sessions.set(session.id, session);
    this.sendDispatch(session, 'READY', {
      v: 10,
      user: { ...this.bot, verified: true, mfa_enabled: false, flags: 0, email: null },
      user_settings: {},
      guilds: [{ id: this.guildId, unavailable: true }],
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl,
      shard: d.shard ?? [0, 1],
      application: { id: this.applicationId, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      geo_ordered_rtc_regions: [],
      guild_join_requests: [],
      auth: {},
      _trace: ['fake-discord'],
    });
    this.sendDispatch(session, 'GUILD_CREATE', this.guildCreatePayload());
    return session;
  }

  /** RESUME (op 6): replay dispatches after `seq`, then RESUMED; unknown sessions get INVALID_SESSION (d:false). */
  private resume(ws: WebSocket, d: any): Session | null {
    if (d?.token !== this.token) {
      ws.close(4004, 'Authentication failed.');
      return null;
    }
    const session = this.sessions.get(d.session_id);
    const seq = typeof d.seq === 'number' ? d.seq : 0;
    if (!session || seq > session.seq) {
      ws.send(JSON.stringify({ op: GATEWAY_OP.InvalidSession, d: false }));
      return null;
    }
    if (session.socket && session.socket !== ws) session.socket.terminate();
    session.socket = ws;
    for (const entry of session.buffer) if (entry.seq > seq) ws.send(entry.frame);
    this.sendDispatch(session, 'RESUMED', { _trace: ['fake-discord'] });
    return session;
  }

  /**
   * Ask the client for an immediate heartbeat (op 1 from the server, as Discord may do). Its answer is our signal
   * that the client has processed READY/GUILD_CREATE or RESUMED: the client shares our event loop, so it drains
   * those frames before we can read its reply. Resolving waitForReady() on *send* instead races discord.js, whose
   * shard (@discordjs/ws 1.2.3) reconnects by itself if destroy() lands while it is still waiting for READY.
   */
  private requestHeartbeat(ws: WebSocket): number {
    this.readySent += 1;
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: GATEWAY_OP.Heartbeat, d: null }));
    return this.readySent;
  }

  /** The client processed the `index`-th READY/RESUMED: resolve waitForReady(n) for every n <= index. */
  private markReadyAcked(index: number): void {
    this.readyAcked = Math.max(this.readyAcked, index);
    const due = this.readyWaiters.filter((w) => this.readyAcked >= w.count);
    this.readyWaiters = this.readyWaiters.filter((w) => this.readyAcked < w.count);
    for (const w of due) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  /** Send one dispatch (op 0) on a session: bump `s`, buffer it for RESUME, send if connected. */
  private sendDispatch(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    const frame = JSON.stringify({ op: GATEWAY_OP.Dispatch, t, s: session.seq, d });
    session.buffer.push({ seq: session.seq, frame });
    if (session.buffer.length > REPLAY_BUFFER) session.buffer.shift();
    if (session.socket?.readyState === WebSocket.OPEN) session.socket.send(frame);
  }

  /** Dispatch to every live session; `build` may return null to skip a session (intents). */
  private dispatch(t: string, build: (s: Session) => unknown): void {
    for (const session of this.sessions.values()) {
      const d = build(session);
      if (d != null) this.sendDispatch(session, t, d);
    }
  }

  /** Dispatch MESSAGE_CREATE/UPDATE with intent filtering and MESSAGE_CONTENT blanking. */
  private dispatchMessage(t: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', message: Json): void {
    const isDm = !message.guild_id;
    const fromBot = message.author?.id === this.botUser.id;
    const mentionsBot = (message.mentions as Json[]).some((u) => u.id === this.botUser.id);
    this.dispatch(t, (s) => {
      if (!(s.intents & (isDm ? Intent.DirectMessages : Intent.GuildMessages))) return null;
      if (isDm || fromBot || mentionsBot || s.intents & Intent.MessageContent) return message;
      return { ...message, content: '', embeds: [], attachments: [], components: [] };
    });
  }

  private guildCreatePayload(): Json {
    const members = [
      memberObject({ user: this.bot, roles: [this.roleIds.bot], joinedAt: this.joinedAt }),
      memberObject({ user: this.userById.get(this.users.owner.id)!, joinedAt: this.joinedAt }),
    ];
    return {
      ...guildBaseObject({
        id: this.guildId,
        name: 'Fake Guild',
        ownerId: this.users.owner.id,
        systemChannelId: this.channelIds.general,
        roles: this.roles,
      }),
      joined_at: this.joinedAt,
      large: false,
      lazy: true,
      unavailable: false,
      member_count: 3,
      channels: [...this.channels.values()].filter((c) => c.guild_id === this.guildId),
      threads: [],
      members,
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      embedded_activities: [],
      activity_instances: [],
      application_command_counts: {},
      hub_type: null,
      version: Date.now(),
    };
  }

  /* ---------------------------------------------- HTTP plumbing ---------------------------------------------- */

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    let reply: Reply;
    const rec: RecordedRequest = { method, path: url.pathname, query: url.searchParams, headers: req.headers, body: undefined, at };
    try {
      const raw = await readBody(req);
      const prefix = '/api/v10';
      const versioned = url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
      const pathname = versioned ? url.pathname.slice(prefix.length) || '/' : url.pathname;
      rec.path = pathname.split('/').map(safeDecode).join('/');
      const parsed = await parseBody(req.headers['content-type'], raw);
      rec.body = parsed.body;
      if (parsed.files) rec.files = parsed.files;
      if (this.takeReset(rec, false)) {
        rec.status = 0;
        this.record(rec);
        res.socket?.destroy();
        return;
      }
      if (parsed.invalid) reply = E.invalidJson();
      else if (!versioned) reply = E.notFound();
      else reply = this.route(rec, req.headers.authorization);
    } catch (e) {
      reply = err(500, `fake-discord internal error: ${(e as Error).message}`, 0);
    }
    rec.status = reply.status;
    rec.response = reply.body;
    if (this.takeReset(rec, true)) {
      rec.status = 0;
      this.record(rec);
      res.socket?.destroy();
      return;
    }
    this.record(rec);
    if (res.destroyed) return;
    if (this.holdPred?.(rec)) {
      this.heldCount += 1;
      return; // the connection stays open with no answer
    }
    const delay = this.slow?.pred(rec) ? this.slow.ms : 0;
    if (delay > 0) setTimeout(() => this.writeReply(res, reply), delay);
    else this.writeReply(res, reply);
  }

  private writeReply(res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    if (reply.body === undefined || reply.status === 204) {
      res.writeHead(reply.status, reply.headers ?? {});
      res.end();
    } else {
      const json = JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
        ...reply.headers,
      });
      res.end(json);
    }
  }

  private record(rec: RecordedRequest): void {
    this.requests.push(rec);
    for (const w of [...this.waiters]) {
      if (!w.pred(rec)) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(rec);
    }
  }

  private route(req: RecordedRequest, authorization: string | undefined): Reply {
    const segs = req.path.split('/').filter(Boolean);
    let pathMatched = false;
    for (const r of this.routes) {
      const params = matchSegments(r.segments, segs);
      if (!params) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      if (r.auth && authorization !== `Bot ${this.token}`) return E.unauthorized();
      return r.handler(req, params);
    }
    return pathMatched ? E.methodNotAllowed() : E.notFound();
  }

  private on(method: string, pattern: string, handler: Handler, auth = true): void {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), auth, handler });
  }

  private teamObject(): Json | null {
    if (!this.teamMemberIds) return null;
    const teamId = '1000000000000000001';
    return {
      id: teamId,
      name: 'fake team',
      icon: null,
      owner_user_id: this.teamMemberIds[0] ?? this.users.owner.id,
      members: this.teamMemberIds.map((id) => ({
        user: this.resolveUser({ id }),
        team_id: teamId,
        membership_state: 2,
        permissions: ['*'],
        role: 'developer',
      })),
    };
  }

  /* ---------------------------------------------- REST routes ---------------------------------------------- */

  /** The REST routes, one method per area. */
  private defineRoutes(): void {
    this.gatewayRoutes();
    this.userRoutes();
    this.commandRoutes();
    this.guildRoutes();
    this.channelRoutes();
    this.interactionRoutes();
  }

  /** Gateway discovery. */
  private gatewayRoutes(): void {
    this.on('GET', '/gateway', () => ok({ url: this.gatewayUrl }), false);
    this.on('GET', '/gateway/bot', () =>
      ok({
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 86_400_000, max_concurrency: 1 },
      }),
    );
  }

  /** Users, DMs, application. */
  private userRoutes(): void {
    this.on('GET', '/users/@me', () => ok({ ...this.bot, verified: true, mfa_enabled: false, flags: 0 }));
    this.on('POST', '/users/@me/channels', (req) => {
      const recipientId = req.body?.recipient_id;
      if (typeof recipientId !== 'string') return ok(formError('recipient_id', 'BASE_TYPE_REQUIRED', 'This field is required'), 400);
      return ok(this.ensureDmChannel(this.resolveUser({ id: recipientId })));
    });
    this.on('GET', '/users/:user', (_req, p) => {
      const user = this.userById.get(p.user!);
      return user ? ok(user) : E.unknownUser();
    });
    this.on('GET', '/applications/@me', () =>
      ok({
        id: this.applicationId,
        name: this.botUser.username,
        icon: null,
        description: '',
        flags: 0,
        bot_public: true,
        bot_require_code_grant: false,
        verify_key: randomToken(32),
        team: this.teamObject(),
        // With a team, Discord's owner is a pseudo-user for the team (not a person who may act for the app).
        owner: this.teamMemberIds ? userObject({ id: '0', username: 'team0' }) : this.userById.get(this.users.owner.id),
        bot: this.bot,
        approximate_guild_count: 1,
      }),
    );
  }

  /** Application commands (global and guild). */
  private commandRoutes(): void {
    for (const scope of ['', '/guilds/:guild'] as const) {
      const base = `/applications/:app${scope}/commands`;
      this.on('GET', base, (_req, p) => this.withCommands(p, (list) => ok(list)));
      this.on('PUT', base, (req, p) => this.withCommands(p, (list, guildId) => this.putCommands(list, guildId, req.body)));
      this.on('POST', base, (req, p) => this.withCommands(p, (list, guildId) => this.postCommand(list, guildId, req.body)));
      this.on('GET', `${base}/:command`, (_req, p) =>
        this.withCommands(p, (list) => {
          const cmd = list.find((c) => c.id === p.command);
          return cmd ? ok(cmd) : E.unknownCommand();
        }),
      );
      this.on('PATCH', `${base}/:command`, (req, p) =>
        this.withCommands(p, (list, guildId) => {
          const idx = list.findIndex((c) => c.id === p.command);
          if (idx < 0) return E.unknownCommand();
          const merged = { ...list[idx], ...req.body };
          const invalid = validateCommand(merged);
          if (invalid) return ok(invalid, 400);
          list[idx] = this.normalizeCommand(merged, guildId, p.command);
          return ok(list[idx]);
        }),
      );
      this.on('DELETE', `${base}/:command`, (_req, p) =>
        this.withCommands(p, (list) => {
          const idx = list.findIndex((c) => c.id === p.command);
          if (idx < 0) return E.unknownCommand();
          list.splice(idx, 1);
          return noContent();
        }),
      );
    }
  }

  /** Guild reads. */
  private guildRoutes(): void {
    this.on('GET', '/guilds/:guild', (_req, p) => (p.guild === this.guildId ? ok(this.guildRestPayload()) : E.missingAccess()));
    this.on('GET', '/guilds/:guild/channels', (_req, p) =>
      p.guild === this.guildId ? ok([...this.channels.values()].filter((c) => c.guild_id === this.guildId)) : E.missingAccess(),
    );
    this.on('GET', '/guilds/:guild/roles', (_req, p) => (p.guild === this.guildId ? ok(this.roles) : E.missingAccess()));
    this.on('GET', '/guilds/:guild/members/:user', (_req, p) => {
      if (p.guild !== this.guildId) return E.missingAccess();
      const user = this.userById.get(p.user!);
      if (!user) return err(404, 'Unknown Member', 10007);
      const roles = user.id === this.botUser.id ? [this.roleIds.bot] : [];
      return ok(memberObject({ user, roles, joinedAt: this.joinedAt }));
    });
  }

  /** Channels and messages. */
  private channelRoutes(): void {
    this.on('GET', '/channels/:channel', (_req, p) => {
      const channel = this.channels.get(p.channel!);
      return channel ? ok(channel) : E.unknownChannel();
    });
    this.on('POST', '/channels/:channel/typing', (_req, p) => (this.channels.has(p.channel!) ? noContent() : E.unknownChannel()));
    this.on('GET', '/channels/:channel/messages', (req, p) => {
      if (!this.channels.has(p.channel!)) return E.unknownChannel();
      const limit = Math.min(100, Math.max(1, Number(req.query.get('limit') ?? 50) || 50));
      const after = req.query.get('after');
      const list = [...this.messages.values()]
        .filter((m) => m.channelId === p.channel && !m.ephemeral && (!after || BigInt(m.message.id) > BigInt(after)))
        .map((m) => m.message);
      // Newest first, like Discord; with `after`, the oldest `limit` after it.
      return ok(after ? list.slice(0, limit).reverse() : list.reverse().slice(0, limit));
    });
    this.on('POST', '/channels/:channel/messages', (req, p) => this.createChannelMessage(req, p.channel!));
    this.on('GET', '/channels/:channel/messages/:message', (_req, p) => {
      const stored = this.findMessage(p.channel!, p.message!);
      return stored ? ok(stored.message) : this.channels.has(p.channel!) ? E.unknownMessage() : E.unknownChannel();
    });
    this.on('PATCH', '/channels/:channel/messages/:message', (req, p) => {
      const stored = this.findMessage(p.channel!, p.message!);
      if (!stored) return this.channels.has(p.channel!) ? E.unknownMessage() : E.unknownChannel();
      if (!stored.fromBot) return E.cannotEditOthers();
      return this.editMessage(stored, req);
    });
    this.on('DELETE', '/channels/:channel/messages/:message', (_req, p) => {
      const stored = this.findMessage(p.channel!, p.message!);
      if (!stored) return this.channels.has(p.channel!) ? E.unknownMessage() : E.unknownChannel();
      this.deleteMessage(stored);
      return noContent();
    });
    for (const method of ['PUT', 'DELETE']) {
      this.on(method, '/channels/:channel/messages/:message/reactions/:emoji/@me', (_req, p) =>
        this.findMessage(p.channel!, p.message!) ? noContent() : E.unknownMessage(),
      );
    }
  }

  /** Interactions (token in URL, no Authorization header). */
  private interactionRoutes(): void {
    this.on('POST', '/interactions/:interaction/:token/callback', (req, p) => this.interactionCallback(req, p), false);
    this.on('POST', '/webhooks/:app/:token', (req, p) => this.followup(req, p), false);
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      this.on(method, '/webhooks/:app/:token/messages/:message', (req, p) => this.webhookMessage(req, p), false);
    }
  }

  private guildRestPayload(): Json {
    return {
      ...guildBaseObject({
        id: this.guildId,
        name: 'Fake Guild',
        ownerId: this.users.owner.id,
        systemChannelId: this.channelIds.general,
        roles: this.roles,
      }),
      region: 'deprecated',
    };
  }

  /* ---------------------------------------------- commands ---------------------------------------------- */

  private withCommands(p: Params, fn: (list: any[], guildId: string | null) => Reply): Reply {
    if (p.app !== this.applicationId) return E.missingAccess();
    if (p.guild === undefined) return fn(this.globalCommands, null);
    if (p.guild !== this.guildId) return E.missingAccess();
    let list = this.guildCommands.get(p.guild);
    if (!list) this.guildCommands.set(p.guild, (list = []));
    return fn(list, p.guild);
  }

  /** Fill in the fields Discord adds to a stored command. */
  private normalizeCommand(body: Json, guildId: string | null, id = snowflake()): Json {
    const cmd: Json = {
      id,
      application_id: this.applicationId,
      version: snowflake(),
      type: body.type ?? 1,
      name: body.name,
      name_localizations: body.name_localizations ?? null,
      description: body.description ?? '',
      description_localizations: body.description_localizations ?? null,
      default_member_permissions: body.default_member_permissions ?? null,
      dm_permission: body.dm_permission ?? true,
      contexts: body.contexts ?? null,
      integration_types: body.integration_types ?? [0],
      nsfw: body.nsfw ?? false,
    };
    if (Array.isArray(body.options) && body.options.length > 0) cmd.options = body.options;
    if (guildId) cmd.guild_id = guildId;
    return cmd;
  }

  /** PUT = bulk overwrite: replaces the list; commands keeping their (type, name) keep their id, like Discord. */
  private putCommands(list: any[], guildId: string | null, body: unknown): Reply {
    const invalid = validateCommandList(body);
    if (invalid) return ok(invalid, 400);
    const next = (body as Json[]).map((c) => {
      const existing = list.find((e) => e.name === c.name && e.type === (c.type ?? 1));
      return this.normalizeCommand(c, guildId, existing?.id);
    });
    list.splice(0, list.length, ...next);
    return ok(list);
  }

  /** POST = upsert by (type, name): 201 for a new command, 200 when it replaced an existing one. */
  private postCommand(list: any[], guildId: string | null, body: Json): Reply {
    const invalid = validateCommand(body);
    if (invalid) return ok(invalid, 400);
    const idx = list.findIndex((e) => e.name === body.name && e.type === (body.type ?? 1));
    const cmd = this.normalizeCommand(body, guildId, idx >= 0 ? list[idx].id : undefined);
    if (idx >= 0) list[idx] = cmd;
    else list.push(cmd);
    return ok(cmd, idx >= 0 ? 200 : 201);
  }

  /* ---------------------------------------------- messages ---------------------------------------------- */

  /** POST /channels/{id}/messages: injected failures, validation, enforce_nonce dedupe, then create + echo. */
  private createChannelMessage(req: RecordedRequest, channelId: string): Reply {
    if (!this.channels.has(channelId)) return E.unknownChannel();
    const failure = this.failures.get(channelId);
    if (failure) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) this.failures.delete(channelId);
      return injectedFailure(failure.status);
    }
    const body = req.body ?? {};
    const invalid = validateMessageBody(body, { hasFiles: (req.files?.length ?? 0) > 0 });
    if (invalid) return ok(invalid, 400);

    const nonceKey = body.nonce != null ? `${channelId}:${String(body.nonce)}` : null;
    if (nonceKey && body.enforce_nonce === true) {
      const prior = this.nonces.get(nonceKey);
      const existing = prior && Date.now() - prior.at < this.opts.nonceWindowMs ? this.messages.get(prior.messageId) : undefined;
      if (existing) return ok(existing.message);
    }

    let reference: Json | null = null;
    let referenced: StoredMessage | undefined;
    if (body.message_reference?.message_id) {
      const ref = body.message_reference;
      referenced = this.findMessage(ref.channel_id ?? channelId, String(ref.message_id));
      if (!referenced && ref.fail_if_not_exists !== false) {
        return ok(formError('message_reference', 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message'), 400);
      }
      if (referenced) {
        reference = { type: 0, message_id: referenced.message.id, channel_id: referenced.channelId };
        if (referenced.message.guild_id) reference.guild_id = referenced.message.guild_id;
      }
    }

    const message = this.buildBotMessage(channelId, body, req.files, { type: reference ? 19 : 0, referenced });
    if (reference && referenced) {
      message.message_reference = reference;
      message.referenced_message = referenced.message;
    }
    this.storeMessage(channelId, message, true, false);
    if (nonceKey) this.nonces.set(nonceKey, { messageId: message.id, at: Date.now() });
    this.echo('MESSAGE_CREATE', message, false);
    return ok(message);
  }

  /**
   * A full message object authored by the bot. Mentions are parsed from the content and filtered through
   * `allowed_mentions` (approximation: no allowed_mentions = parse everything; replies mention the replied
   * author unless allowed_mentions.replied_user is false). The bot lacks MentionEveryone, so
   * mention_everyone is always false.
   */
  private buildBotMessage(
    channelId: string,
    body: Json,
    files: RecordedFile[] | undefined,
    o: { type: number; referenced?: StoredMessage | undefined; flags?: number; extra?: Json },
  ): Json {
    const channel = this.channels.get(channelId)!;
    const guildId: string | null = channel.guild_id ?? null;
    const content = typeof body.content === 'string' ? body.content : '';
    const allowed: Json | undefined = body.allowed_mentions;
    const parse: string[] | undefined = allowed ? (Array.isArray(allowed.parse) ? allowed.parse : []) : undefined;
    const allowUser = (id: string) => !parse || parse.includes('users') || (allowed?.users ?? []).includes(id);
    const allowRole = (id: string) => !parse || parse.includes('roles') || (allowed?.roles ?? []).includes(id);
    const mentions = this.parseUserMentions(content, guildId).filter((u) => allowUser(u.id));
    const repliedAuthor: ApiUser | undefined = o.referenced?.message.author;
    if (repliedAuthor && (allowed ? allowed.replied_user === true : true) && !mentions.some((u) => u.id === repliedAuthor.id)) {
      mentions.push(repliedAuthor);
    }
    const message: Json = {
      id: snowflake(),
      channel_id: channelId,
      author: this.bot,
      content,
      timestamp: isoNow(),
      edited_timestamp: null,
      tts: Boolean(body.tts),
      mention_everyone: false,
      mentions,
      mention_roles: this.parseRoleMentions(content).filter(allowRole),
      attachments: attachmentsFrom(files, this.port),
      embeds: Array.isArray(body.embeds) ? body.embeds.map((e: Json) => ({ type: 'rich', ...e })) : [],
      components: Array.isArray(body.components) ? body.components : [],
      pinned: false,
      type: o.type,
      flags: o.flags ?? (typeof body.flags === 'number' ? body.flags & ((1 << 2) | (1 << 12)) : 0),
      ...o.extra,
    };
    if (body.nonce != null) message.nonce = body.nonce;
    // REST responses carry no guild_id/member; echo() adds them to the gateway copy.
    return message;
  }

  private storeMessage(channelId: string, message: Json, fromBot: boolean, ephemeral: boolean): void {
    this.messages.set(message.id, { channelId, message, fromBot, ephemeral });
    const channel = this.channels.get(channelId);
    if (channel && !ephemeral) channel.last_message_id = message.id;
  }

  private findMessage(channelId: string, messageId: string): StoredMessage | undefined {
    const stored = this.messages.get(messageId);
    return stored && stored.channelId === channelId ? stored : undefined;
  }

  /** Apply a message edit (content/embeds/components/flags/attachments), validate and echo MESSAGE_UPDATE. */
  private editMessage(stored: StoredMessage, req: RecordedRequest): Reply {
    const body: Json = req.body ?? {};
    const invalid = validateMessageBody(body, { partial: true });
    if (invalid) return ok(invalid, 400);
    const msg = stored.message;
    const wasLoading = (msg.flags & MessageFlag.Loading) !== 0;
    const next: Json = { ...msg };
    if ('content' in body) next.content = body.content ?? '';
    if ('embeds' in body) next.embeds = (body.embeds ?? []).map((e: Json) => ({ type: 'rich', ...e }));
    if ('components' in body) next.components = body.components ?? [];
    if (req.files?.length) next.attachments = [...(next.attachments ?? []), ...attachmentsFrom(req.files, this.port)];
    else if (Array.isArray(body.attachments)) {
      const keep = new Set(body.attachments.map((a: Json) => String(a.id)));
      next.attachments = (next.attachments ?? []).filter((a: Json) => keep.has(String(a.id)));
    }
    if ('content' in body) next.mentions = this.parseUserMentions(next.content, this.channels.get(stored.channelId)?.guild_id ?? null);
    next.flags = msg.flags & ~MessageFlag.Loading;
    if (wasLoading) {
      const empty = validateMessageBody(next, { hasFiles: next.attachments.length > 0 });
      if (empty) return ok(empty, 400);
    } else next.edited_timestamp = isoNow();
    stored.message = next;
    this.echo('MESSAGE_UPDATE', next, stored.ephemeral);
    return ok(next);
  }

  private deleteMessage(stored: StoredMessage): void {
    this.messages.delete(stored.message.id);
    if (stored.ephemeral || !this.opts.echoBotMessages) return;
    const guildId = this.channels.get(stored.channelId)?.guild_id;
    const d: Json = { id: stored.message.id, channel_id: stored.channelId };
    if (guildId) d.guild_id = guildId;
    this.dispatch('MESSAGE_DELETE', (s) => (s.intents & (guildId ? Intent.GuildMessages : Intent.DirectMessages) ? d : null));
  }

  /** Gateway copy of a bot-authored message (adds guild_id/member/channel_type). Ephemeral messages are never dispatched. */
  private echo(t: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', message: Json, ephemeral: boolean): void {
    if (!this.opts.echoBotMessages || ephemeral) return;
    const channel = this.channels.get(message.channel_id)!;
    const d: Json = { ...message, channel_type: channel.type };
    if (channel.guild_id) {
      d.guild_id = channel.guild_id;
      d.member = memberObject({ roles: [this.roleIds.bot], joinedAt: this.joinedAt });
    }
    this.dispatchMessage(t, d);
  }

  /* ---------------------------------------------- interactions ---------------------------------------------- */

  /** POST /interactions/{id}/{token}/callback: the initial response (3 s deadline, exactly once). */
  private interactionCallback(req: RecordedRequest, p: Params): Reply {
    const it = this.interactions.get(p.interaction!);
    if (!it || it.token !== p.token) return E.unknownInteraction();
    const deadline = this.opts.interactionDeadlineMs;
    if (deadline > 0 && !it.acked && performance.now() - it.createdAt > deadline) return E.unknownInteraction();
    if (it.acked) return E.alreadyAcked();
    const body: Json = req.body ?? {};
    const data: Json = body.data ?? {};
    const responseType = body.type;
    const allowed = it.type === 4 ? [8] : [4, 5, 9];
    if (!allowed.includes(responseType)) {
      return ok(formError('type', 'INTERACTION_RESPONSE_TYPE_INVALID', 'Invalid interaction response type'), 400);
    }

    let message: Json | null = null;
    const ephemeral = typeof data.flags === 'number' && (data.flags & MessageFlag.Ephemeral) !== 0;
    if (responseType === 4) {
      const invalid = validateMessageBody(data, { prefix: 'data.', hasFiles: (req.files?.length ?? 0) > 0 });
      if (invalid) return ok(invalid, 400);
      message = this.interactionMessage(it, data, req.files, ephemeral ? MessageFlag.Ephemeral : 0);
    } else if (responseType === 5) {
      // Deferred: Discord creates a "thinking…" placeholder (LOADING flag) that @original edits fill in.
      message = this.interactionMessage(it, {}, undefined, MessageFlag.Loading | (ephemeral ? MessageFlag.Ephemeral : 0));
    } else if (responseType === 8) {
      const invalid = validateAutocompleteChoices(data.choices);
      if (invalid) return ok(invalid, 400);
    }
    it.acked = true;
    if (message) {
      it.originalMessageId = message.id;
      this.echo('MESSAGE_CREATE', message, ephemeral);
    }

    if (req.query.get('with_response') !== 'true') return noContent();
    const response: Json = {
      interaction: {
        id: it.id,
        type: it.type,
        activity_instance_id: null,
        response_message_id: message?.id ?? null,
        response_message_loading: responseType === 5,
        response_message_ephemeral: ephemeral,
      },
    };
    if (message || responseType === 9) response.resource = message ? { type: responseType, message } : { type: responseType };
    return ok(response);
  }

  /** Create and store a message belonging to an interaction (original response or followup). */
  private interactionMessage(it: InteractionState, data: Json, files: RecordedFile[] | undefined, flags: number, followup = false): Json {
    const metadata = {
      id: it.id,
      type: it.type,
      user: it.user,
      authorizing_integration_owners: it.payload.authorizing_integration_owners,
      name: it.commandName,
      command_type: 1,
      ...(followup && it.originalMessageId ? { original_response_message_id: it.originalMessageId } : {}),
    };
    const message = this.buildBotMessage(it.channelId, data, files, {
      type: followup ? 0 : 20,
      flags: flags | (typeof data.flags === 'number' ? data.flags & ((1 << 2) | (1 << 12)) : 0),
      extra: {
        webhook_id: this.applicationId,
        application_id: this.applicationId,
        interaction_metadata: metadata,
        interaction: { id: it.id, type: it.type, name: it.commandName, user: it.user },
      },
    });
    it.messageIds.add(message.id);
    this.storeMessage(it.channelId, message, true, (flags & MessageFlag.Ephemeral) !== 0);
    return message;
  }

  private interactionByWebhook(p: Params): InteractionState | undefined {
    if (p.app !== this.applicationId) return undefined;
    for (const it of this.interactions.values()) if (it.token === p.token) return it;
    return undefined;
  }

  /** POST /webhooks/{app}/{token}: a followup message (only after the initial response). */
  private followup(req: RecordedRequest, p: Params): Reply {
    const it = this.interactionByWebhook(p);
    if (!it?.acked || it.type === 4) return E.unknownWebhook();
    const body: Json = req.body ?? {};
    const invalid = validateMessageBody(body, { hasFiles: (req.files?.length ?? 0) > 0 });
    if (invalid) return ok(invalid, 400);
    const ephemeral = typeof body.flags === 'number' && (body.flags & MessageFlag.Ephemeral) !== 0;
    const message = this.interactionMessage(it, body, req.files, ephemeral ? MessageFlag.Ephemeral : 0, true);
    this.echo('MESSAGE_CREATE', message, ephemeral);
    return req.query.get('wait') === 'true' ? ok(message) : noContent();
  }

  /** GET/PATCH/DELETE /webhooks/{app}/{token}/messages/{id|@original}. */
  private webhookMessage(req: RecordedRequest, p: Params): Reply {
    const it = this.interactionByWebhook(p);
    if (!it) return E.unknownWebhook();
    const messageId = p.message === '@original' ? it.originalMessageId : it.messageIds.has(p.message!) ? p.message! : null;
    const stored = messageId ? this.messages.get(messageId) : undefined;
    if (!stored) return E.unknownMessage();
    if (req.method === 'GET') return ok(stored.message);
    if (req.method === 'DELETE') {
      this.deleteMessage(stored);
      return noContent();
    }
    return this.editMessage(stored, req);
  }

  /* ---------------------------------------------- helpers ---------------------------------------------- */

  /** Known user by id, or a new one; `username`/`bot` overrides update the stored user. */
  private resolveUser(o: { id?: string; username?: string; bot?: boolean } | undefined): ApiUser {
    const id = o?.id ?? this.users.default.id;
    const existing = this.userById.get(id);
    if (existing && o?.username === undefined && o?.bot === undefined) return existing;
    const user = userObject({
      id,
      username: o?.username ?? existing?.username ?? `user${id.slice(-6)}`,
      bot: o?.bot ?? existing?.bot === true,
      globalName: existing?.global_name ?? null,
    });
    this.userById.set(id, user);
    return user;
  }

  private ensureDmChannel(user: ApiUser): Json {
    const existingId = this.dmByUser.get(user.id);
    if (existingId) return this.channels.get(existingId)!;
    const channel = dmChannelObject({ id: snowflake(), recipient: user });
    this.channels.set(channel.id as string, channel);
    this.dmByUser.set(user.id, channel.id as string);
    return channel;
  }

  private guildChannel(channelId: string | undefined): Json {
    const channel = this.channels.get(channelId ?? this.channelIds.general);
    if (!channel?.guild_id) throw new Error(`fake-discord: unknown guild channel ${channelId}`);
    return channel;
  }

  /** Users mentioned as <@id>/<@!id> that the fake knows; in guilds each carries a partial `member`. */
  private parseUserMentions(content: string, guildId: string | null): Json[] {
    const ids = new Set([...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!));
    const out: Json[] = [];
    for (const id of ids) {
      const user = this.userById.get(id);
      if (!user) continue;
      const roles = id === this.botUser.id ? [this.roleIds.bot] : [];
      out.push(guildId ? { ...user, member: memberObject({ roles, joinedAt: this.joinedAt }) } : { ...user });
    }
    return out;
  }

  private parseRoleMentions(content: string): string[] {
    const known = new Set(this.roles.map((r) => r.id as string));
    return [...new Set([...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!))].filter((id) => known.has(id));
  }

  /** data.resolved for USER(6)/CHANNEL(7)/ROLE(8)/MENTIONABLE(9) options whose value the fake knows. */
  private buildResolved(options: any[], guildId: string | null): Json | null {
    const resolved: Json = {};
    const add = (kind: string, id: string, value: unknown) => ((resolved[kind] ??= {})[id] = value);
    const walk = (opts: any[]) => {
      for (const opt of opts) {
        if (Array.isArray(opt.options)) walk(opt.options);
        const id = String(opt.value ?? '');
        if ((opt.type === 6 || opt.type === 9) && this.userById.has(id)) {
          add('users', id, this.userById.get(id));
          if (guildId) add('members', id, { ...memberObject({ joinedAt: this.joinedAt }), permissions: EVERYONE_PERMISSIONS });
        }
        if (opt.type === 7 && this.channels.has(id)) {
          const c = this.channels.get(id)!;
          add('channels', id, { id, name: c.name, type: c.type, permissions: EVERYONE_PERMISSIONS, guild_id: c.guild_id });
        }
        if ((opt.type === 8 || opt.type === 9) && this.roles.some((r) => r.id === id)) {
          add(
            'roles',
            id,
            this.roles.find((r) => r.id === id),
          );
        }
      }
    };
    walk(options);
    return Object.keys(resolved).length > 0 ? resolved : null;
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* Module helpers                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

/** Error replies for failChannelPosts, shaped like Discord's. */
function injectedFailure(status: 403 | 404 | 429 | 500): Reply {
  switch (status) {
    case 403:
      return E.missingAccess();
    case 404:
      return E.unknownChannel();
    case 429:
      return {
        status: 429,
        body: { message: 'You are being rate limited.', retry_after: 0.05, global: false },
        headers: {
          // Discord's Retry-After header is whole seconds; a fractional value keeps tests fast.
          'retry-after': '0.05',
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': '0.05',
          'x-ratelimit-scope': 'user',
        },
      };
    case 500:
      return err(500, 'Internal Server Error', 0);
  }
}

function matchSegments(pattern: string[], segs: string[]): Params | null {
  if (pattern.length !== segs.length) return null;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const pat = pattern[i]!;
    const seg = segs[i]!;
    if (pat.startsWith(':')) params[pat.slice(1)] = seg;
    else if (pat !== seg) return null;
  }
  return params;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Parse a JSON or multipart/form-data (`payload_json` + `files[n]`) body. */
async function parseBody(contentType: string | undefined, raw: Buffer): Promise<{ body: any; files?: RecordedFile[]; invalid?: boolean }> {
  if (raw.length === 0) return { body: undefined };
  const ct = contentType ?? '';
  if (ct.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': ct } }).formData();
    const files: RecordedFile[] = [];
    let body: any;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') {
          try {
            body = JSON.parse(value);
          } catch {
            return { body: undefined, files, invalid: true };
          }
        }
      } else {
        files.push({ field, filename: value.name, contentType: value.type, size: value.size });
      }
    }
    return { body, files };
  }
  if (ct.startsWith('application/json')) {
    try {
      return { body: JSON.parse(raw.toString('utf8')) };
    } catch {
      return { body: undefined, invalid: true };
    }
  }
  return { body: raw.toString('utf8') };
}

function attachmentsFrom(files: RecordedFile[] | undefined, port: number): Json[] {
  return (files ?? []).map((f) => {
    const id = snowflake();
    const url = `http://127.0.0.1:${port}/attachments/${id}/${encodeURIComponent(f.filename)}`;
    return { id, filename: f.filename, size: f.size, url, proxy_url: url, content_type: f.contentType };
  });
}
