import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Bot } from '../../core/bot.js';
import type { Reply } from '../../core/reply.js';
import type { FindResult } from '../../digest/port.js';
import { StartupError } from '../../startup-error.js';
import { InFlight, type AdapterStatus, type ChatAdapter } from '../types.js';
import { catchCryptoListeners, quietSdkLogs, SyncReportingClient } from './client.js';
import { connectInBackground, ConnectionState } from './connection.js';
import type { PersistentIndexedDb } from './crypto-store.js';
import { cryptoStorage, openCryptoStore, rememberJoinedMembers, RoomEncryption } from './crypto.js';
import { homeserverError } from './errors.js';
import { Messages, type RoomEvent } from './messages.js';
import { Rooms } from './rooms.js';
import { MatrixSender } from './send.js';
import { Session } from './session.js';
import { SharedSyncStorage, type SharedState } from './shared-sync.js';
import { SyncStorage } from './sync-storage.js';

export { HomeserverError, homeserverError } from './errors.js';

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

/** At shutdown, how long sends already in flight may finish (the queue's waiting replies are dropped at once). */
const SEND_GRACE_MS = 4000;

/**
 * Matrix on matrix-bot-sdk: `!commands`, mentions and DMs (messages.ts), replies as `m.notice` rich replies
 * without fallbacks (render.ts, send.ts), invites by policy (rooms.ts), digests posted with idempotent
 * transaction ids. This class connects, wires the SDK's events to those parts and stops. Every listener
 * catches its own errors (the SDK does not await them).
 */
export class MatrixAdapter implements ChatAdapter {
  readonly platform = 'matrix' as const;
  /** The crypto machine's store while started with encryption. */
  cryptoStore: PersistentIndexedDb | undefined;
  onFatal?: (err: StartupError) => void;
  /**
   * Synapse keeps transaction ids for about 30 minutes; ten are taken as the window, on the safe side.
   * Past it the scheduler looks for the post instead.
   */
  readonly dedupWindowMs = 10 * 60_000;
  private readonly storage: SyncStorage | SharedSyncStorage;
  private readonly session: Session;
  private readonly encryption = new RoomEncryption(() => this.session.client);
  private members: { forget(roomId: string): void } = { forget: () => undefined };
  private readonly inFlight = new InFlight();
  private readonly log: Logger;
  private readonly connection: ConnectionState;
  private readonly sender: MatrixSender;
  private readonly messages: Messages;
  private readonly rooms: Rooms;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: MatrixOptions) {
    this.log = opts.logger.child({ adapter: 'matrix' });
    quietSdkLogs(this.log);
    this.connection = new ConnectionState(this.log);
    const handled = () => this.inFlight.drain();
    this.storage = opts.sharedState
      ? new SharedSyncStorage(opts.sharedState, handled)
      : new SyncStorage(join(opts.dataDir, 'matrix-sync.json'), handled, (err) =>
          this.log.error({ err }, 'could not save the Matrix sync position; retrying at the next flush'),
        );
    this.session = new Session(this.createClient(opts.e2ee !== false));
    this.sender = new MatrixSender(this.session, this.encryption, { prefix: opts.prefix, retry: opts.retry }, this.log);
    this.messages = new Messages(this.session, this.sender, opts);
    this.rooms = new Rooms(this.session, this.sender, this.storage, this.log, opts.inviteAllow);
  }

  /** The SDK's client (replaced by one without encryption when the access token has no device). */
  get client(): SyncReportingClient {
    return this.session.client;
  }

  private createClient(e2ee: boolean): SyncReportingClient {
    const client = new SyncReportingClient(this.opts.homeserverUrl, this.opts.accessToken, this.storage, e2ee ? cryptoStorage(this.opts.dataDir) : undefined);
    client.onSyncResult = (err) => this.session.accepting && this.connection.onSyncResult(err);
    if (e2ee) this.members = rememberJoinedMembers(client);
    if (client.crypto) catchCryptoListeners(client.crypto, this.log);
    // A batch's position is reported after the batch was handed to the listeners (see SyncStorage, SharedSyncStorage).
    (client as unknown as { persistTokenAfterSync: boolean }).persistTokenAfterSync = true;
    client.on('room.message', (roomId: string, ev: RoomEvent) => void this.inFlight.track(this.guard('message', () => this.messages.onMessage(roomId, ev))));
    client.on('room.invite', (roomId: string, ev: RoomEvent) => void this.guard('invite', () => this.rooms.onInvite(roomId, ev)));
    client.on('room.event', (roomId: string, ev: RoomEvent) => void this.guard('event', () => this.onEvent(roomId, ev)));
    client.on(
      'room.failed_decryption',
      (roomId: string, ev: RoomEvent, err: unknown) => void this.guard('undecryptable', () => this.rooms.onUndecryptable(roomId, ev, err)),
    );
    client.on('room.join', (roomId: string) => void this.guard('join', () => this.rooms.onJoin(roomId)));
    client.on('room.leave', (roomId: string) => {
      this.messages.forget(roomId);
      this.members.forget(roomId);
      this.encryption.forget(roomId);
    });
    return client;
  }

  private onEvent(roomId: string, ev: RoomEvent): Promise<void> {
    if (ev.type === 'm.room.member') {
      this.messages.forget(roomId);
      this.members.forget(roomId);
    }
    this.encryption.onEvent(roomId, ev);
    return this.rooms.onEvent(roomId, ev);
  }

  /**
   * Encryption needs a device: with MATRIX_E2EE unset it is on when whoami names one (or one is stored),
   * and the machine's store is opened (and locked) before the client starts.
   */
  private async prepareCrypto(): Promise<void> {
    const client = this.session.client;
    if (!client.crypto) return;
    const stored = await client.cryptoStore.getDeviceId();
    const device = stored ?? (await client.getWhoAmI()).device_id;
    if (!device) {
      if (this.opts.e2ee)
        throw new StartupError(
          'MATRIX_E2EE=true, but MATRIX_ACCESS_TOKEN belongs to no device (whoami has no device_id): log in to create a device, or set MATRIX_E2EE=false.',
        );
      this.log.warn('MATRIX_ACCESS_TOKEN belongs to no device: end-to-end encryption is off');
      this.session.client = this.createClient(false);
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
      void connectInBackground(e, {
        connect: () => this.connect(),
        state: this.connection,
        log: this.log,
        signal: this.stopping.signal,
        backoff: this.opts.connectBackoff,
        onFatal: (fatal) => this.onFatal?.(fatal),
      });
    }
  }

  private async connect(): Promise<void> {
    const s = this.session;
    try {
      s.userId = await s.client.getUserId();
    } catch (err) {
      const e = homeserverError(err);
      if (e.statusCode === 401)
        throw new StartupError(`MATRIX_ACCESS_TOKEN was rejected by the homeserver (${e.errcode ?? '401'}): create a new access token for the bot account.`);
      if (e.retryable) throw e;
      throw new StartupError(`MATRIX_HOMESERVER_URL: the homeserver refused the bot (${e.message})`);
    }
    s.displayName = await s.client
      .getUserProfile(s.userId)
      .then((p: { displayname?: string }) => p?.displayname)
      .catch(() => undefined);
    const resumed = Boolean(await this.storage.getSyncToken());
    // Fresh start: no history replay. Restart: answer what was asked during a short outage.
    s.cutoff = resumed ? Date.now() - this.opts.graceMs : Date.now();
    s.resumedAt = resumed ? Date.now() : undefined;
    await this.prepareCrypto();
    s.accepting = true;
    this.storage.frozen = false;
    try {
      await s.client.start();
    } catch (err) {
      this.closeCryptoStore();
      throw err;
    }
    this.connection.set(true, 'syncing');
    this.log.info({ user: s.userId, resumed, device: s.client.crypto?.clientDeviceId, e2ee: Boolean(s.client.crypto) }, 'connected to Matrix');
  }

  status(): AdapterStatus {
    return this.connection.status();
  }

  replyStats(): { pending: number; shed: number } {
    return this.sender.stats();
  }

  async stop(): Promise<void> {
    this.session.accepting = false;
    this.stopping.abort();
    this.storage.frozen = true;
    this.session.client.stop();
    await this.inFlight.drain();
    const { dropped, unfinished } = await this.sender.close(SEND_GRACE_MS);
    this.log.info({ dropped, unfinished }, `shutdown: ${dropped} queued replies dropped, ${unfinished} still sending abandoned`);
    await this.storage.flush();
    this.connection.set(false, 'stopped');
    this.closeCryptoStore();
  }

  private closeCryptoStore(): void {
    this.cryptoStore?.close();
    this.cryptoStore = undefined;
  }

  post(roomId: string, reply: Reply, key: string): Promise<void> {
    return this.sender.post(roomId, reply, key);
  }

  findPost(roomId: string, key: string, since: number): Promise<FindResult> {
    return this.sender.findPost(roomId, key, since);
  }

  private async guard(what: string, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ err, listener: what }, 'matrix listener failed');
    }
  }
}
