/**
 * Builders for Discord API objects (API v10 JSON shapes) used by the fake Discord server.
 * Everything here is plain data: no I/O, no state besides the snowflake counter.
 */
import { randomBytes } from 'node:crypto';

/** Discord epoch (2015-01-01T00:00:00.000Z) in ms. */
const DISCORD_EPOCH = 1420070400000n;
let lastSnowflake = 0n;

/** Generate a snowflake-like id (digits only, strictly increasing, timestamp-encoded like Discord's). */
export function snowflake(): string {
  let id = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
  if (id <= lastSnowflake) id = lastSnowflake + 1n;
  lastSnowflake = id;
  return id.toString();
}

/** Random URL-safe token (interaction tokens, session ids, bot token parts). */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** Discord-style ISO8601 timestamp with microseconds and explicit offset. */
export function isoNow(date = new Date()): string {
  return date.toISOString().replace('Z', '000+00:00');
}

/** Permission bits (subset) as Discord defines them. */
export const Perm = {
  CreateInstantInvite: 1n << 0n,
  ManageChannels: 1n << 4n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  UseExternalEmojis: 1n << 18n,
  Connect: 1n << 20n,
  Speak: 1n << 21n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
  CreatePublicThreads: 1n << 35n,
  SendMessagesInThreads: 1n << 38n,
} as const;

/** Permissions of @everyone in the fake guild (a typical community default; no ManageChannels/Admin). */
export const EVERYONE_PERMISSIONS = (
  Perm.CreateInstantInvite |
  Perm.AddReactions |
  Perm.ViewChannel |
  Perm.SendMessages |
  Perm.EmbedLinks |
  Perm.AttachFiles |
  Perm.ReadMessageHistory |
  Perm.UseExternalEmojis |
  Perm.Connect |
  Perm.Speak |
  Perm.ChangeNickname |
  Perm.UseApplicationCommands |
  Perm.CreatePublicThreads |
  Perm.SendMessagesInThreads
).toString();

/** Gateway intent bits the fake cares about. */
export const Intent = {
  Guilds: 1 << 0,
  GuildMessages: 1 << 9,
  DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;

/** Message flags. */
export const MessageFlag = { Ephemeral: 1 << 6, Loading: 1 << 7 } as const;

/** Loosely typed API JSON object. */
export type Json = Record<string, any>;

export interface ApiUser {
  id: string;
  username: string;
  discriminator: string;
  global_name: string | null;
  avatar: string | null;
  bot?: boolean;
  [k: string]: unknown;
}

/** A user object; `bot` is only present when true, like Discord. */
export function userObject(o: { id: string; username: string; bot?: boolean; globalName?: string | null }): ApiUser {
  const user: ApiUser = {
    id: o.id,
    username: o.username,
    discriminator: '0',
    global_name: o.globalName ?? null,
    avatar: null,
    public_flags: 0,
  };
  if (o.bot) user.bot = true;
  return user;
}

/** A guild member object (without `user` when `user` is omitted, as in MESSAGE_CREATE). */
export function memberObject(o: { user?: ApiUser; roles?: string[]; joinedAt: string; permissions?: string }): Json {
  const member: Record<string, unknown> = {
    roles: o.roles ?? [],
    joined_at: o.joinedAt,
    nick: null,
    avatar: null,
    banner: null,
    premium_since: null,
    deaf: false,
    mute: false,
    pending: false,
    flags: 0,
    communication_disabled_until: null,
  };
  if (o.user) member.user = o.user;
  if (o.permissions !== undefined) member.permissions = o.permissions;
  return member;
}

/** A guild text channel (type 0). */
export function textChannelObject(o: { id: string; guildId: string; name: string; position: number }): Json {
  return {
    id: o.id,
    type: 0,
    guild_id: o.guildId,
    name: o.name,
    position: o.position,
    parent_id: null,
    topic: null,
    nsfw: false,
    last_message_id: null,
    rate_limit_per_user: 0,
    permission_overwrites: [],
    flags: 0,
  };
}

/** A DM channel (type 1) with one recipient. */
export function dmChannelObject(o: { id: string; recipient: ApiUser }): Json {
  return { id: o.id, type: 1, last_message_id: null, flags: 0, recipients: [o.recipient] };
}

/** A role object. */
export function roleObject(o: { id: string; name: string; permissions: string; position: number; managed?: boolean; tags?: Record<string, unknown> }): Json {
  const role: Record<string, unknown> = {
    id: o.id,
    name: o.name,
    description: null,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: o.position,
    permissions: o.permissions,
    managed: o.managed ?? false,
    mentionable: false,
    flags: 0,
  };
  if (o.tags) role.tags = o.tags;
  return role;
}

/** The guild fields shared by REST GET /guilds/{id} and the gateway GUILD_CREATE. */
export function guildBaseObject(o: { id: string; name: string; ownerId: string; systemChannelId: string; roles: unknown[] }): Json {
  return {
    id: o.id,
    name: o.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: o.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    mfa_level: 0,
    nsfw_level: 0,
    application_id: null,
    system_channel_id: o.systemChannelId,
    system_channel_flags: 0,
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    vanity_url_code: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    premium_progress_bar_enabled: false,
    preferred_locale: 'en-US',
    max_members: 500000,
    max_video_channel_users: 25,
    max_stage_video_channel_users: 50,
    widget_enabled: false,
    widget_channel_id: null,
    features: [],
    roles: o.roles,
    emojis: [],
    stickers: [],
    incidents_data: null,
  };
}

/** A Discord "Invalid Form Body" (50035) error body for one field. */
export function formError(path: string, code: string, message: string): Json {
  // Discord nests the errors by path segments: {"content": {"_errors": [...]}} / {"embeds": {"0": {...}}}
  const leaf = { _errors: [{ code, message }] };
  const errors = path
    .split('.')
    .reverse()
    .reduce<Record<string, unknown>>((acc, seg) => ({ [seg]: acc }), leaf);
  return { message: 'Invalid Form Body', code: 50035, errors };
}
