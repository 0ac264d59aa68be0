import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LogLevel, LogService, MatrixClient, MatrixError, SimpleFsStorageProvider } from 'matrix-bot-sdk';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { Bot } from '../../core/bot.js';
import type { Reply } from '../../core/reply.js';
import { scrub } from '../../log.js';
import { DeliveryError, type FindResult } from '../../digest/port.js';
import { InFlight, type AdapterStatus, type ChatAdapter } from '../types.js';
import type { PersistentIndexedDb } from './crypto-store.js';
import { cryptoStorage, openCryptoStore, rememberJoinedMembers, RoomEncryption } from './crypto.js';
import { inviteAllowed, isEdit, readMention, type MessageContent } from './events.js';
import { renderMatrix } from './render.js';
import { SharedSyncStorage, type SharedState } from './shared-sync.js';

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
  /** End-to-end encryption (MATRIX_E2EE): undefined = on when the access token belongs to a device. */
  e2ee?: boolean;
  /** Several replicas: sync state in the shared store instead of DATA_DIR/matrix-sync.json. */
  sharedState?: SharedState;
}

interface RoomEvent {
  event_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: MessageContent & Record<string, unknown>;
  state_key?: string;
}

const E2EE_NOTICE = 'I cannot read encrypted messages: end-to-end encryption is turned off for this bot. Ask me in an unencrypted room.';
const UTD_NOTICE = 'I could not decrypt a message here: the sender\'s device did not share its key with my device. Please send it again (verifying or re-sharing keys may help).';
/** At most one "could not decrypt" notice per room in this time. */
const UTD_NOTICE_EVERY_MS = 60 * 60_000;
/** The (state) event type whose power level gates manager commands; rooms without an entry for it use `state_default`. */
const MANAGE_EVENT = 'org.kernel-status-bot.manage';

/** Event content field that carries a digest post's idempotency key (clients ignore unknown fields). */
const DIGEST_KEY_FIELD = 'org.kernel-status-bot.digest';

function digestTxnId(key: string): string {
  return `digest-${key}`;
}

/** A failed send as a {@link DeliveryError}: 403/404 permanent, 429 after `retry_after_ms`, anything else (any 5xx, any body, no answer) transient. */
function classifyMatrixError(err: unknown, where: string): DeliveryError {
  const message = `${where}: ${scrub(err instanceof Error ? err.message : String((err as { statusCode?: number })?.statusCode ?? err))}`;
  const status = err instanceof MatrixError ? err.statusCode : Number((err as { statusCode?: unknown })?.statusCode) || 0;
  if (status === 403 || status === 404) return new DeliveryError(message, 'permanent');
  if (status === 429) return new DeliveryError(message, 'retry-after', err instanceof MatrixError ? err.retryAfterMs : undefined);
  return new DeliveryError(message, 'transient');
}

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

const isDecryptionError = (args: unknown[]): boolean => typeof args[0] === 'string' && args[0].startsWith('Decryption error on ');

/** Routes matrix-bot-sdk's own logging into pino (scrubbed), quiet below warnings. */
function quietSdkLogs(log: Logger): void {
  const fmt = (module: string, args: unknown[]) => scrub(`${module}: ${args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  LogService.setLogger({
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (m: string, ...a: unknown[]) => log.warn({ sdk: true }, fmt(m, a)),
    // An undecryptable event is logged by the adapter, once per session (onUndecryptable).
    error: (m: string, ...a: unknown[]) => void (isDecryptionError(a) || log.error({ sdk: true }, fmt(m, a))),
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
  client: MatrixClient;
  /** The crypto machine's store while started with encryption. */
  cryptoStore: PersistentIndexedDb | undefined;
  private readonly storage: SyncStorage | SharedSyncStorage;
  private readonly undecryptable = new Set<string>();
  private readonly encryption = new RoomEncryption(() => this.client);
  private members: { forget(roomId: string): void } = { forget: () => undefined };
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
    this.storage = opts.sharedState ? new SharedSyncStorage(opts.sharedState, () => this.inFlight.drain()) : new SyncStorage(join(opts.dataDir, 'matrix-sync.json'));
    this.client = this.createClient(opts.e2ee !== false);
  }

  private createClient(e2ee: boolean): MatrixClient {
    const client = new MatrixClient(this.opts.homeserverUrl, this.opts.accessToken, this.storage, e2ee ? cryptoStorage(this.opts.dataDir) : undefined);
    if (e2ee) this.members = rememberJoinedMembers(client);
    // Shared state: save a batch's token after the batch is handled (see SharedSyncStorage).
    if (this.opts.sharedState) (client as unknown as { persistTokenAfterSync: boolean }).persistTokenAfterSync = true;
    client.on('room.message', (roomId: string, ev: RoomEvent) => void this.inFlight.track(this.guard('message', () => this.onMessage(roomId, ev))));
    client.on('room.invite', (roomId: string, ev: RoomEvent) => void this.guard('invite', () => this.onInvite(roomId, ev)));
    client.on('room.event', (roomId: string, ev: RoomEvent) => void this.guard('event', () => this.onEvent(roomId, ev)));
    client.on('room.failed_decryption', (roomId: string, ev: RoomEvent, err: unknown) => void this.guard('undecryptable', () => this.onUndecryptable(roomId, ev, err)));
    client.on('room.join', (roomId: string) => void this.guard('join', () => this.onJoin(roomId)));
    client.on('room.leave', (roomId: string) => {
      this.memberCounts.delete(roomId);
      this.members.forget(roomId);
      this.encryption.forget(roomId);
    });
    return client;
  }

  /**
   * Encryption needs a device: with MATRIX_E2EE unset it is on when whoami names one (or one is stored),
   * and the machine's store is opened (and locked) before the client starts.
   */
  private async prepareCrypto(): Promise<void> {
    if (!this.client.crypto) return;
    const stored = await this.client.cryptoStore.getDeviceId();
    const device = stored ?? (await this.client.getWhoAmI()).device_id;
    if (!device) {
      if (this.opts.e2ee) throw new MatrixStartupError('MATRIX_E2EE=true, but MATRIX_ACCESS_TOKEN belongs to no device (whoami has no device_id): log in to create a device, or set MATRIX_E2EE=false.');
      this.log.warn('MATRIX_ACCESS_TOKEN belongs to no device: end-to-end encryption is off');
      this.client = this.createClient(false);
      return;
    }
    this.cryptoStore = await openCryptoStore(this.opts.dataDir);
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
    await this.prepareCrypto();
    this.accepting = true;
    this.storage.frozen = false;
    try {
      await this.client.start();
    } catch (err) {
      this.closeCryptoStore();
      throw err;
    }
    this.connected = true;
    this.log.info({ user: this.userId, resumed, device: this.client.crypto?.clientDeviceId, e2ee: Boolean(this.client.crypto) }, 'connected to Matrix');
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
    this.closeCryptoStore();
  }

  private closeCryptoStore(): void {
    this.cryptoStore?.close();
    this.cryptoStore = undefined;
  }

  /**
   * Synapse keeps transaction ids for about 30 minutes; ten are taken as the window, on the safe side.
   * Past it the scheduler looks for the post instead.
   */
  readonly dedupWindowMs = 10 * 60_000;

  /**
   * One PUT (the scheduler retries), encrypted in an encrypted room. The key is the transaction id (the
   * homeserver shows it back to this device as `unsigned.transaction_id`) and, in a plain room, a content field.
   */
  async post(roomId: string, reply: Reply, key: string): Promise<void> {
    try {
      const { type, content } = await this.encryption.seal(roomId, { ...renderMatrix(reply, this.opts.prefix), [DIGEST_KEY_FIELD]: key });
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${encodeURIComponent(digestTxnId(key))}`;
      await this.client.doRequest('PUT', path, null, content);
    } catch (err) {
      throw classifyMatrixError(err, `room ${roomId}`);
    }
  }

  /** Looks for an event of ours with the key among the room's last 100 events. */
  async findPost(roomId: string, key: string, since: number): Promise<FindResult> {
    type Ev = { sender?: string; origin_server_ts?: number; content?: Record<string, unknown>; unsigned?: { transaction_id?: string } };
    let page: { chunk?: Ev[]; end?: string };
    try {
      page = (await this.client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 100 })) as typeof page;
    } catch {
      return 'unknown';
    }
    const chunk = page.chunk ?? [];
    const mine = (e: Ev) => e.sender === this.userId && (e.unsigned?.transaction_id === digestTxnId(key) || e.content?.[DIGEST_KEY_FIELD] === key);
    if (chunk.some(mine)) return 'found';
    const oldest = chunk.at(-1)?.origin_server_ts;
    const reachesBack = page.end === undefined || (oldest !== undefined && oldest <= since);
    return reachesBack ? 'absent' : 'unknown';
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
        direct: isDirect,
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
    if (this.client.crypto) return;
    const encryption = await this.client.getRoomStateEvent(roomId, 'm.room.encryption', '').catch(() => undefined);
    if (encryption) await this.noticeEncrypted(roomId);
  }

  private async onEvent(roomId: string, ev: RoomEvent): Promise<void> {
    if (ev.type === 'm.room.member') {
      this.memberCounts.delete(roomId);
      this.members.forget(roomId);
    }
    this.encryption.onEvent(roomId, ev);
    if (ev.type === 'm.room.encrypted' && !this.client.crypto && ev.sender !== this.userId && ev.origin_server_ts >= this.cutoff) await this.noticeEncrypted(roomId);
  }

  /** A message the machine cannot decrypt: logged once per (room, session); the room hears why at most hourly. */
  private async onUndecryptable(roomId: string, ev: RoomEvent, err: unknown): Promise<void> {
    if (!this.accepting || ev.sender === this.userId || ev.origin_server_ts < this.cutoff) return;
    const session = typeof ev.content?.session_id === 'string' ? ev.content.session_id : undefined;
    const key = `${roomId} ${session ?? ev.event_id}`;
    if (!this.undecryptable.has(key)) {
      if (this.undecryptable.size >= 10_000) this.undecryptable.clear();
      this.undecryptable.add(key);
      this.log.warn({ room: roomId, session, event: ev.event_id, sender: ev.sender, reason: scrub(err instanceof Error ? err.message : String(err)) }, 'cannot decrypt a message');
    }
    const noticeKey = `utd_notice:${roomId}`;
    const last = Number((await this.storage.readValue(noticeKey)) ?? 0);
    const now = Date.now();
    if (now - last < UTD_NOTICE_EVERY_MS) return;
    await this.storage.storeValue(noticeKey, String(now));
    const slot = Math.floor(now / UTD_NOTICE_EVERY_MS);
    await this.send(roomId, renderMatrix({ kind: 'info', summary: UTD_NOTICE }, this.opts.prefix), `utd-${createHash('sha256').update(`${roomId} ${slot}`).digest('hex').slice(0, 24)}`);
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
   * 5xx backs off; 4xx other than 429 fails at once. In an encrypted room the content is encrypted once,
   * before the first attempt (retries send the same ciphertext).
   */
  private async send(roomId: string, message: object, txnId: string): Promise<void> {
    const { type, content } = await this.encryption.seal(roomId, message);
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${encodeURIComponent(txnId)}`;
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
