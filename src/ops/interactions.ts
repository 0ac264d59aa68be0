import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bot } from '../core/bot.js';
import { optionsOf, type ArgValue, type Args, type IncomingMessage } from '../core/command.js';
import type { Reply } from '../core/reply.js';
import { renderChoices, renderDiscord } from '../adapters/discord/render.js';

/** Interaction and callback types of Discord's API (v10) that this endpoint uses. */
const PING = 1;
const APPLICATION_COMMAND = 2;
const AUTOCOMPLETE = 4;
const PONG = 1;
const CHANNEL_MESSAGE = 4;
const DEFERRED_CHANNEL_MESSAGE = 5;
const AUTOCOMPLETE_RESULT = 8;
const SUB_COMMAND = 1;
const EPHEMERAL = 1 << 6;
const MANAGE_CHANNELS = 1n << 4n;

/** A signed request older or newer than this is refused (replay). */
export const MAX_SKEW_MS = 5 * 60_000;
/** Discord waits 3 s for the response; a reply not ready by then is deferred and completed by a follow-up. */
const DEFER_AFTER_MS = 2000;

export interface HttpAnswer {
  status: number;
  body: unknown;
}

interface RawOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: RawOption[];
}

interface RawInteraction {
  id: string;
  type: number;
  token: string;
  application_id: string;
  channel_id?: string;
  guild_id?: string;
  member?: { user: { id: string }; permissions?: string };
  user?: { id: string };
  data?: { name: string; options?: RawOption[] };
}

export interface InteractionsOptions {
  /** The application's public key (hex), as the Developer Portal shows it. */
  publicKey: string;
  bot: Bot;
  logger: Logger;
  /** Completes a deferred response: PATCH /webhooks/{application}/{token}/messages/@original. */
  followUp(applicationId: string, token: string, body: unknown): Promise<void>;
  now?: () => number;
  onAnswered?: (kind: 'ping' | 'command' | 'autocomplete' | 'deferred' | 'rejected') => void;
}

/** The Ed25519 key from its raw 32 bytes (hex). */
export function publicKeyFromHex(hex: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(hex, 'hex').toString('base64url') }, format: 'jwk' });
}

/**
 * `POST /interactions`: Discord's HTTP interactions. Every request's Ed25519 signature over timestamp + body
 * is checked with the application's public key (401 otherwise, and a timestamp more than 5 minutes off is
 * refused as a replay); PING gets PONG; slash commands and autocomplete are answered in the HTTP response by
 * whichever replica receives them, deferred and completed by a follow-up when not ready within 2 s.
 */
export class Interactions {
  private readonly key: KeyObject;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: InteractionsOptions) {
    this.key = publicKeyFromHex(opts.publicKey);
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'interactions' });
  }

  /** True when the signature and timestamp are valid for this body. */
  verified(signature: string | undefined, timestamp: string | undefined, body: Buffer): boolean {
    if (!signature || !timestamp || !/^[0-9a-f]{128}$/i.test(signature) || !/^\d{1,12}$/.test(timestamp)) return false;
    if (Math.abs(this.now() - Number(timestamp) * 1000) > MAX_SKEW_MS) return false;
    return verify(null, Buffer.concat([Buffer.from(timestamp), body]), this.key, Buffer.from(signature, 'hex'));
  }

  /** Answers one request (headers already lower-cased by node). */
  async handle(headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<HttpAnswer> {
    const sig = headers['x-signature-ed25519'];
    const ts = headers['x-signature-timestamp'];
    if (!this.verified(typeof sig === 'string' ? sig : undefined, typeof ts === 'string' ? ts : undefined, body)) {
      this.opts.onAnswered?.('rejected');
      return { status: 401, body: { error: 'invalid request signature' } };
    }
    let i: RawInteraction;
    try {
      i = JSON.parse(body.toString('utf8')) as RawInteraction;
    } catch {
      return { status: 400, body: { error: 'body is not JSON' } };
    }
    if (i.type === PING) {
      this.opts.onAnswered?.('ping');
      return { status: 200, body: { type: PONG } };
    }
    if (i.type === AUTOCOMPLETE) {
      this.opts.onAnswered?.('autocomplete');
      return { status: 200, body: { type: AUTOCOMPLETE_RESULT, data: { choices: this.autocomplete(i) } } };
    }
    if (i.type === APPLICATION_COMMAND) return this.command(i);
    return { status: 400, body: { error: 'unsupported interaction type' } };
  }

  private autocomplete(i: RawInteraction): { name: string; value: string }[] {
    const def = i.data && this.opts.bot.command(i.data.name);
    if (!def) return [];
    const { subcommand, options } = flatten(i.data!.options);
    const focused = options.find((o) => o.focused);
    const opt = focused && optionsOf(def, subcommand).find((o) => o.name === focused.name);
    return opt?.autocomplete === 'topics' ? renderChoices(this.opts.bot.complete(String(focused!.value ?? ''))) : [];
  }

  private async command(i: RawInteraction): Promise<HttpAnswer> {
    const { subcommand, options } = flatten(i.data?.options);
    const hide = options.find((o) => o.name === 'hide')?.value === true;
    const work = this.reply(i, subcommand, options);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), DEFER_AFTER_MS)));
    const first = await Promise.race([work, late]);
    clearTimeout(timer);
    if (first !== 'late') {
      this.opts.onAnswered?.('command');
      return { status: 200, body: { type: CHANNEL_MESSAGE, data: messageData(first, hide) } };
    }
    // Not ready in time: defer now, complete the original response when the reply is ready.
    this.opts.onAnswered?.('deferred');
    const ephemeral = hide;
    void work
      .then((reply) => this.opts.followUp(i.application_id, i.token, messageData(reply, hide)))
      .catch((err: unknown) => this.log.error({ err, interaction: i.id }, 'deferred interaction follow-up failed'));
    return { status: 200, body: { type: DEFERRED_CHANNEL_MESSAGE, ...(ephemeral ? { data: { flags: EPHEMERAL } } : {}) } };
  }

  private async reply(i: RawInteraction, subcommand: string | undefined, options: RawOption[]): Promise<Reply> {
    const def = i.data && this.opts.bot.command(i.data.name);
    if (!def) return { kind: 'usage', summary: 'That command is not available any more.', private: true };
    const sub = def.subcommands ? subcommand : undefined;
    const args: Record<string, ArgValue | undefined> = { subcommand: sub };
    for (const o of optionsOf(def, sub)) {
      const v = options.find((x) => x.name === o.name)?.value;
      if (v !== undefined && v !== null) args[o.name] = v;
    }
    const userId = i.member?.user.id ?? i.user?.id ?? 'unknown';
    const inGuild = Boolean(i.guild_id);
    const msg: IncomingMessage = {
      platform: 'discord',
      text: `/${i.data!.name}`,
      userId,
      channelId: i.channel_id ?? 'unknown',
      addressed: true,
      // Discord sends the member's permissions in this channel with every guild interaction.
      canManage: inGuild ? hasManageChannels(i.member?.permissions) : true,
    };
    const reply = await this.opts.bot.invoke(def, args as Args, msg, '/');
    // An interaction must be answered; a rate-limited user sees this only themselves.
    return reply ?? { kind: 'rate-limited', summary: 'Please slow down.', private: true };
  }
}

function hasManageChannels(permissions: string | undefined): boolean {
  if (!permissions || !/^\d+$/.test(permissions)) return false;
  return (BigInt(permissions) & MANAGE_CHANNELS) === MANAGE_CHANNELS;
}

/** The subcommand (if any) and the options the user gave. */
function flatten(options: RawOption[] | undefined): { subcommand?: string; options: RawOption[] } {
  const first = options?.[0];
  if (first?.type === SUB_COMMAND) return { subcommand: first.name, options: first.options ?? [] };
  return { options: options ?? [] };
}

/** The message of a response: our embed, ephemeral when private or hidden, never a mention. */
function messageData(reply: Reply, hide: boolean): Record<string, unknown> {
  const body = renderDiscord(reply);
  return { embeds: body.embeds, allowed_mentions: { parse: [], replied_user: false }, ...(hide || reply.private ? { flags: EPHEMERAL } : {}) };
}
