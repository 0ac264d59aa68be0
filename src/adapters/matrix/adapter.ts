import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LogLevel, LogService, MatrixClient, MatrixError, SimpleFsStorageProvider } from 'matrix-bot-sdk';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { Bot } from '../../core/bot.js';
import type { Reply } from '../../core/reply.js';
import { scrub } from '../../log.js';
import { DeliveryError, type FindResult } from '../../digest/port.js';
import { StartupError } from '../../startup-error.js';
import { ReplyQueue, type SendBudget } from '../reply-queue.js';
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
  /** BOT_ADMINS: Matrix user ids that may run bot-wide commands (/reload). */
  admins?: readonly string[];
  /** Waits between attempts to reach a homeserver that is down at start-up (tests shorten them). */
  connectBackoff?: { firstMs: number; maxMs: number };
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
  const e = homeserverError(err);
  const message = `${where}: ${e.message}`;
  if (e.statusCode === 403 || e.statusCode === 404) return new DeliveryError(message, 'permanent');
  if (e.statusCode === 429) return new DeliveryError(message, 'retry-after', e.retryAfterMs);
  return new DeliveryError(message, 'transient');
}

/**
 * A homeserver's send budget for replies: no global figure (a homeserver answers 429 with retry_after_ms,
 * honoured per send); 10 per second, 8 in flight.
 */
const REPLY_BUDGET: SendBudget = { perSecond: 10, concurrency: { interaction: 8, message: 8 } };
/** At shutdown, how long sends already in flight may finish (the queue's waiting replies are dropped at once). */
const SEND_GRACE_MS = 4000;

/** Waits between attempts to reach a homeserver that is down at start-up (doubling from the first, capped). */
const CONNECT_BACKOFF = { firstMs: 1000, maxMs: 60_000 };

/**
 * A failed homeserver request as an Error with its HTTP status (0: no answer, a connection error). matrix-bot-sdk
 * throws a MatrixError only for JSON error bodies; a plain-text 502 or an HTML 503 comes out as the raw response
 * object, which is not an Error at all.
 */
export class HomeserverError extends Error {
  override name = 'HomeserverError';
  constructor(
    message: string,
    readonly statusCode: number,
    readonly retryAfterMs?: number,
    readonly errcode?: string,
  ) {
    super(message);
  }

  /** 429, any 5xx whatever its body, and connection errors are worth another attempt. */
  get retryable(): boolean {
    return this.statusCode === 0 || this.statusCode === 429 || this.statusCode >= 500;
  }
}

/** Normalises whatever a matrix-bot-sdk request rejected with. */
export function homeserverError(err: unknown): HomeserverError {
  if (err instanceof HomeserverError) return err;
  if (err instanceof MatrixError) return new HomeserverError(scrub(err.message), err.statusCode, err.retryAfterMs, err.errcode);
  const status = typeof (err as { statusCode?: unknown })?.statusCode === 'number' ? (err as { statusCode: number }).statusCode : 0;
  if (status > 0) return new HomeserverError(`homeserver answered ${status}`, status);
  const e = err as { code?: string; message?: string };
  return new HomeserverError(scrub(e?.code ? `${e.code}: ${e.message ?? ''}` : String(e?.message ?? err)), 0);
}

/**
 * The SDK's client, reporting the outcome of every /sync: the sync loop catches its own errors and backs off
 * 5–15 s, so this is the only place where "the homeserver is not answering" can be seen. A /sync is a long poll
 * (held up to 30 s when nothing happens), so after a failure the next attempt is accompanied by a quick
 * `GET /versions`: its answer shows the homeserver back without waiting for the poll to return.
 */
class SyncReportingClient extends MatrixClient {
  onSyncResult: (err?: unknown) => void = () => undefined;
  private failing = false;
  protected override doSync(token: string): Promise<unknown> {
    if (this.failing) {
      this.doRequest('GET', '/_matrix/client/versions').then(
        () => this.report(),
        () => undefined, // the /sync itself reports the failure
      );
    }
    return super.doSync(token).then(
      (r: unknown) => {
        this.report();
        return r;
      },
      (err: unknown) => {
        this.report(err);
        throw err;
      },
    );
  }

  private report(err?: unknown): void {
    this.failing = err !== undefined;
    this.onSyncResult(err);
  }
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
  client: SyncReportingClient;
  /** The crypto machine's store while started with encryption. */
  cryptoStore: PersistentIndexedDb | undefined;
  private readonly storage: SyncStorage | SharedSyncStorage;
  private readonly undecryptable = new Set<string>();
  private readonly encryption = new RoomEncryption(() => this.client);
  private members: { forget(roomId: string): void } = { forget: () => undefined };
  private readonly inFlight = new InFlight();
  private readonly replies: ReplyQueue;
  private readonly log: Logger;
  private readonly memberCounts = new Map<string, number>();
  private accepting = false;
  private connected = false;
  private reason = 'not started';
  private readonly stopping = new AbortController();
  onFatal?: (err: StartupError) => void;
  private userId = '';
  private displayName: string | undefined;
  private cutoff = 0;

  constructor(private readonly opts: MatrixOptions) {
    this.log = opts.logger.child({ adapter: 'matrix' });
    this.replies = new ReplyQueue(REPLY_BUDGET, this.log);
    quietSdkLogs(this.log);
    this.storage = opts.sharedState ? new SharedSyncStorage(opts.sharedState, () => this.inFlight.drain()) : new SyncStorage(join(opts.dataDir, 'matrix-sync.json'));
    this.client = this.createClient(opts.e2ee !== false);
  }

  private createClient(e2ee: boolean): SyncReportingClient {
    const client = new SyncReportingClient(this.opts.homeserverUrl, this.opts.accessToken, this.storage, e2ee ? cryptoStorage(this.opts.dataDir) : undefined);
    client.onSyncResult = (err) => this.onSyncResult(err);
    if (e2ee) this.members = rememberJoinedMembers(client);
    if (client.crypto) this.catchCryptoListeners(client.crypto);
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
   * matrix-bot-sdk calls the crypto client's room listeners without awaiting them, and they make requests
   * (room members, device lists): during a homeserver outage each would be an unhandled rejection, which
   * ends the process. Their failures are logged instead; the next membership event tracks the users again.
   */
  private catchCryptoListeners(crypto: NonNullable<MatrixClient['crypto']>): void {
    const onRoomEvent = crypto.onRoomEvent.bind(crypto);
    const onRoomJoin = crypto.onRoomJoin.bind(crypto);
    const failed = (what: string) => (err: unknown) => this.log.warn({ reason: homeserverError(err).message }, `encryption: ${what} failed`);
    crypto.onRoomEvent = (roomId, event) => onRoomEvent(roomId, event).catch(failed('tracking a room event'));
    crypto.onRoomJoin = (roomId) => onRoomJoin(roomId).catch(failed('tracking a joined room'));
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
      if (this.opts.e2ee) throw new StartupError('MATRIX_E2EE=true, but MATRIX_ACCESS_TOKEN belongs to no device (whoami has no device_id): log in to create a device, or set MATRIX_E2EE=false.');
      this.log.warn('MATRIX_ACCESS_TOKEN belongs to no device: end-to-end encryption is off');
      this.client = this.createClient(false);
      return;
    }
    this.cryptoStore = await openCryptoStore(this.opts.dataDir);
  }

  /**
   * Connects and starts the sync loop. A rejected token throws a StartupError; a homeserver that cannot be
   * reached (connection error, 5xx) is retried in the background with backoff, so the other platforms serve
   * meanwhile and /readyz says why Matrix is not ready.
   */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      if (err instanceof StartupError) throw err;
      const e = homeserverError(err);
      this.log.warn({ reason: e.message }, 'homeserver unreachable at start-up; retrying in the background');
      void this.connectInBackground(e);
    }
  }

  private async connect(): Promise<void> {
    try {
      this.userId = await this.client.getUserId();
    } catch (err) {
      const e = homeserverError(err);
      if (e.statusCode === 401) throw new StartupError(`MATRIX_ACCESS_TOKEN was rejected by the homeserver (${e.errcode ?? '401'}): create a new access token for the bot account.`);
      if (e.retryable) throw e;
      throw new StartupError(`MATRIX_HOMESERVER_URL: the homeserver refused the bot (${e.message})`);
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
    this.setConnected(true, 'syncing');
    this.log.info({ user: this.userId, resumed, device: this.client.crypto?.clientDeviceId, e2ee: Boolean(this.client.crypto) }, 'connected to Matrix');
  }

  /** Retries connect() until it works, the adapter stops, or the token is rejected (then onFatal). */
  private async connectInBackground(first: HomeserverError): Promise<void> {
    let wait = this.opts.connectBackoff?.firstMs ?? CONNECT_BACKOFF.firstMs;
    const max = this.opts.connectBackoff?.maxMs ?? CONNECT_BACKOFF.maxMs;
    let last: Error = first;
    while (!this.stopping.signal.aborted) {
      this.setConnected(false, `homeserver unreachable (${last.message}); retrying in ${Math.round(wait / 1000)} s`);
      await delay(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.stopping.signal.aborted) return;
      try {
        await this.connect();
        return;
      } catch (err) {
        if (err instanceof StartupError) {
          this.setConnected(false, err.message);
          this.onFatal?.(err);
          return;
        }
        last = homeserverError(err);
        this.log.warn({ reason: last.message }, 'homeserver still unreachable');
        wait = Math.min(wait * 2, max);
      }
    }
  }

  /** Follows the sync loop: connected after each /sync answered, disconnected at each one that failed. */
  private onSyncResult(err?: unknown): void {
    if (!this.accepting) return;
    if (err === undefined) {
      if (!this.connected) this.log.info('Matrix sync is back');
      this.setConnected(true, 'syncing');
      return;
    }
    const e = homeserverError(err);
    if (this.connected) this.log.warn({ reason: e.message }, 'Matrix sync failed; the SDK retries in 5–15 s');
    this.setConnected(false, `sync failing (${e.message})`);
  }

  private setConnected(connected: boolean, reason: string): void {
    this.connected = connected;
    this.reason = reason;
  }

  status(): AdapterStatus {
    return this.connected ? { connected: true } : { connected: false, reason: this.reason };
  }

  replyStats(): { pending: number; shed: number } {
    return { pending: this.replies.pending, shed: this.replies.shed };
  }

  async stop(): Promise<void> {
    this.accepting = false;
    this.stopping.abort();
    this.storage.frozen = true;
    this.client.stop();
    await this.inFlight.drain();
    const { dropped, unfinished } = await this.replies.close(SEND_GRACE_MS);
    this.log.info({ dropped, unfinished }, `shutdown: ${dropped} queued replies dropped, ${unfinished} still sending abandoned`);
    this.setConnected(false, 'stopped');
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
        isAdmin: this.opts.admins?.includes(ev.sender) ?? false,
      },
      [this.opts.prefix],
    );
    if (!reply) return;
    const rendered = renderMatrix(reply, this.opts.prefix, ev.event_id);
    const txnId = `r-${createHash('sha256').update(ev.event_id).digest('hex').slice(0, 24)}`;
    this.replies.push('message', () => this.send(roomId, rendered, txnId));
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
    const put = () => (this.client.doRequest('PUT', path, null, content) as Promise<unknown>).catch((err: unknown) => Promise.reject(homeserverError(err)));
    // The first attempt goes out at once; only a failure pays for setting up the retries, which take
    // it over as their own first attempt (same waits and limits as if pRetry had made it).
    const first = put();
    try {
      await first;
      return;
    } catch {
      // handled below
    }
    const r = this.opts.retry ?? { retries: 4, minTimeoutMs: 500 };
    await pRetry((attempt) => (attempt === 1 ? first : put()), {
      retries: r.retries,
      minTimeout: r.minTimeoutMs,
      maxTimeout: 30_000,
      // Every 429, every 5xx whatever its body (JSON, plain text, HTML) and every connection error.
      shouldRetry: ({ error }) => (error instanceof HomeserverError ? error.retryable : false),
      onFailedAttempt: async ({ error }) => {
        const wait = error instanceof HomeserverError ? error.retryAfterMs : undefined;
        if (wait) await new Promise((res) => setTimeout(res, Math.min(wait, 60_000)));
      },
    });
  }
}
