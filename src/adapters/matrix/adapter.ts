import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LogLevel, LogService, MatrixClient, MatrixError, SimpleFsStorageProvider } from 'matrix-bot-sdk';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { Bot } from '../../core/bot.js';
import type { Reply } from '../../core/reply.js';
import { scrub } from '../../log.js';
import { DeliveryError } from '../../digest/port.js';
import { InFlight, type AdapterStatus, type ChatAdapter } from '../types.js';
import { inviteAllowed, isEdit, readMention, type MessageContent } from './events.js';
import { renderMatrix } from './render.js';

export interface MatrixOptions {
  homeserverUrl: string;
  accessToken: string;
  dataDir: string;
  bot: Bot;
  logger: Logger;
  prefix: string;
  inviteAllow?: string;
  /** After a restart, events at most this old are still answered. */
  graceMs: number;
  /** Send retries on 429/5xx (tests shorten the waits). */
  retry?: { retries: number; minTimeoutMs: number };
}

interface RoomEvent {
  event_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: MessageContent & Record<string, unknown>;
  state_key?: string;
}

const E2EE_NOTICE = 'I cannot read encrypted messages: end-to-end encryption is not supported by this bot. Ask me in an unencrypted room.';
/** The (state) event type whose power level gates manager commands; rooms without an entry for it use `state_default`. */
const MANAGE_EVENT = 'org.kernel-status-bot.manage';

/** Thrown for a start-up failure the operator must fix (bad token, unreachable server). */
export class MatrixStartupError extends Error {
  readonly startup = true;
}

/**
 * Sync state on disk that stops recording sync positions once the adapter stops: the SDK cannot abort
 * its long poll, and a /sync answered after stop() must not move the saved position past events that
 * nobody handled (the next start answers them within the grace period).
 */
class SyncStorage extends SimpleFsStorageProvider {
  frozen = false;
  override setSyncToken(token: string | null): void {
    if (!this.frozen) super.setSyncToken(token);
  }
}

/** Routes matrix-bot-sdk's own logging into pino (scrubbed), quiet below warnings. */
function quietSdkLogs(log: Logger): void {
  const fmt = (module: string, args: unknown[]) => scrub(`${module}: ${args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  LogService.setLogger({
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (m: string, ...a: unknown[]) => log.warn({ sdk: true }, fmt(m, a)),
    error: (m: string, ...a: unknown[]) => log.error({ sdk: true }, fmt(m, a)),
  });
  LogService.setLevel(LogLevel.WARN);
  LogService.muteModule('Metrics');
}

/**
 * Matrix on matrix-bot-sdk: `!commands`, mentions and DMs, replies as
 * `m.notice` rich replies without fallbacks, invites by policy, digests
 * posted with idempotent transaction ids. Every listener catches its own
 * errors (the SDK does not await them).
 */
export class MatrixAdapter implements ChatAdapter {
  readonly platform = 'matrix' as const;
  readonly client: MatrixClient;
  private readonly storage: SyncStorage;
  private readonly inFlight = new InFlight();
  private readonly log: Logger;
  private readonly memberCounts = new Map<string, number>();
  private accepting = false;
  private connected = false;
  private userId = '';
  private displayName: string | undefined;
  private cutoff = 0;

  constructor(private readonly opts: MatrixOptions) {
    this.log = opts.logger.child({ adapter: 'matrix' });
    quietSdkLogs(this.log);
    this.storage = new SyncStorage(join(opts.dataDir, 'matrix-sync.json'));
    this.client = new MatrixClient(opts.homeserverUrl, opts.accessToken, this.storage);
    this.client.on('room.message', (roomId: string, ev: RoomEvent) => void this.inFlight.track(this.guard('message', () => this.onMessage(roomId, ev))));
    this.client.on('room.invite', (roomId: string, ev: RoomEvent) => void this.guard('invite', () => this.onInvite(roomId, ev)));
    this.client.on('room.event', (roomId: string, ev: RoomEvent) => void this.guard('event', () => this.onEvent(roomId, ev)));
    this.client.on('room.join', (roomId: string) => void this.guard('join', () => this.onJoin(roomId)));
    this.client.on('room.leave', (roomId: string) => this.memberCounts.delete(roomId));
  }

  async start(): Promise<void> {
    try {
      this.userId = await this.client.getUserId();
    } catch (err) {
      if (err instanceof MatrixError && err.statusCode === 401) {
        throw new MatrixStartupError(`MATRIX_ACCESS_TOKEN was rejected by the homeserver (${err.errcode}): create a new access token for the bot account.`);
      }
      throw new MatrixStartupError(`cannot reach the homeserver at MATRIX_HOMESERVER_URL (${scrub((err as Error).message)})`);
    }
    this.displayName = await this.client
      .getUserProfile(this.userId)
      .then((p: { displayname?: string }) => p?.displayname)
      .catch(() => undefined);
    const resumed = Boolean(await this.storage.getSyncToken());
    // Fresh start: no history replay. Restart: answer what was asked during a short outage.
    this.cutoff = resumed ? Date.now() - this.opts.graceMs : Date.now();
    this.accepting = true;
    this.storage.frozen = false;
    await this.client.start();
    this.connected = true;
    this.log.info({ user: this.userId, resumed }, 'connected to Matrix');
  }

  status(): AdapterStatus {
    return this.connected ? { connected: true } : { connected: false, reason: this.accepting ? 'sync not running' : 'not started' };
  }

  async stop(): Promise<void> {
    this.accepting = false;
    this.storage.frozen = true;
    this.client.stop();
    await this.inFlight.drain();
    this.connected = false;
  }

  async post(roomId: string, reply: Reply, key: string): Promise<void> {
    try {
      await this.send(roomId, renderMatrix(reply, this.opts.prefix), `digest-${key}`);
    } catch (err) {
      const status = err instanceof MatrixError ? err.statusCode : 0;
      throw new DeliveryError(`room ${roomId}: ${scrub((err as Error).message)}`, status === 403 || status === 404);
    }
  }

  private async guard(what: string, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ err, listener: what }, 'matrix listener failed');
    }
  }

  private async onMessage(roomId: string, ev: RoomEvent): Promise<void> {
    if (!this.accepting || ev.sender === this.userId || ev.type !== 'm.room.message') return;
    const content = ev.content ?? {};
    if (content.msgtype === 'm.notice' || isEdit(content) || typeof content.body !== 'string') return;
    if (ev.origin_server_ts < this.cutoff) return;
    const { mentioned, text } = readMention(content, this.userId, this.displayName);
    const isDirect = (this.memberCounts.get(roomId) ?? (await this.memberCount(roomId))) === 2;
    const reply = await this.opts.bot.handle(
      {
        platform: 'matrix',
        text: mentioned || isDirect ? text : content.body,
        userId: ev.sender,
        channelId: roomId,
        addressed: mentioned || isDirect,
        canManage: () => this.powerAllows(roomId, ev.sender),
      },
      [this.opts.prefix],
    );
    if (reply) await this.send(roomId, renderMatrix(reply, this.opts.prefix, ev.event_id), `r-${createHash('sha256').update(ev.event_id).digest('hex').slice(0, 24)}`);
  }

  private async onInvite(roomId: string, ev: RoomEvent): Promise<void> {
    if (!this.accepting) return;
    if (!inviteAllowed(ev.sender, this.opts.inviteAllow, this.userId)) {
      this.log.info({ room: roomId, inviter: ev.sender }, 'invite refused by MATRIX_INVITE_ALLOW');
      await this.client.leaveRoom(roomId);
      return;
    }
    try {
      await this.client.joinRoom(roomId);
      this.log.info({ room: roomId, inviter: ev.sender }, 'joined room');
    } catch (err) {
      this.log.warn({ err, room: roomId }, 'could not join room');
    }
  }

  private async onJoin(roomId: string): Promise<void> {
    const encryption = await this.client.getRoomStateEvent(roomId, 'm.room.encryption', '').catch(() => undefined);
    if (encryption) await this.noticeEncrypted(roomId);
  }

  private async onEvent(roomId: string, ev: RoomEvent): Promise<void> {
    if (ev.type === 'm.room.member') this.memberCounts.delete(roomId);
    if (ev.type === 'm.room.encrypted' && ev.sender !== this.userId && ev.origin_server_ts >= this.cutoff) await this.noticeEncrypted(roomId);
  }

  /** Says once per room (remembered across restarts) that encrypted messages cannot be read. */
  private async noticeEncrypted(roomId: string): Promise<void> {
    const key = `e2ee_notice:${roomId}`;
    if (await this.storage.readValue(key)) return;
    await this.storage.storeValue(key, '1');
    await this.send(roomId, renderMatrix({ kind: 'info', summary: E2EE_NOTICE }, this.opts.prefix), `e2ee-${createHash('sha256').update(roomId).digest('hex').slice(0, 24)}`);
  }

  private async memberCount(roomId: string): Promise<number> {
    let n = this.memberCounts.get(roomId);
    if (n === undefined) {
      n = (await this.client.getJoinedRoomMembers(roomId)).length;
      this.memberCounts.set(roomId, n);
    }
    return n;
  }

  /**
   * Whether the sender may manage the room: matrix-bot-sdk's check for a state event of our own type, so the
   * bar is the room's `state_default` (default 50) unless the room sets one for MANAGE_EVENT. A room without
   * power levels makes the SDK throw, and the core refuses.
   */
  private powerAllows(roomId: string, sender: string): Promise<boolean> {
    return this.client.userHasPowerLevelFor(sender, roomId, MANAGE_EVENT, true);
  }

  /**
   * The one way events leave: PUT with our own transaction id (a retried send
   * reuses it, so the homeserver stores one event); 429 waits `retry_after_ms`,
   * 5xx backs off; 4xx other than 429 fails at once.
   */
  private async send(roomId: string, content: object, txnId: string): Promise<void> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`;
    // The first attempt goes out at once; only a failure pays for setting up the retries, which take
    // it over as their own first attempt (same waits and limits as if pRetry had made it).
    const first = this.client.doRequest('PUT', path, null, content) as Promise<unknown>;
    try {
      await first;
      return;
    } catch {
      // handled below
    }
    const r = this.opts.retry ?? { retries: 4, minTimeoutMs: 500 };
    await pRetry((attempt) => (attempt === 1 ? first : this.client.doRequest('PUT', path, null, content)), {
      retries: r.retries,
      minTimeout: r.minTimeoutMs,
      maxTimeout: 30_000,
      shouldRetry: ({ error }) => error instanceof MatrixError ? error.statusCode === 429 || error.statusCode >= 500 : true,
      onFailedAttempt: async ({ error }) => {
        const wait = error instanceof MatrixError ? error.retryAfterMs : undefined;
        if (wait) await new Promise((res) => setTimeout(res, Math.min(wait, 60_000)));
      },
    });
  }
}
